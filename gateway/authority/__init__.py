"""Authority requests: the intake (``intake``: its wire structure and the checked form), the
request as the record keeps it (``request``) and its workflow (``workflow``: intake,
second-person decision, close), the steps after intake (``steps``; their API bodies,
``bodies``), preservation orders (``preservation``), the one package an approved
request gets (``package``), the authorities and rules from config.toml (``settings``), and the
desk staff use from every door (``desk``)."""
