"""Authority requests: the intake form (``intake``), the request as the record keeps it
(``request``) and its workflow (``workflow``: intake, second-person decision, close), the steps
after intake (``steps``), preservation orders (``preservation``), the one package an approved
request gets (``package``), the authorities and rules from config.toml (``settings``), and the
desk staff use from every door (``desk``)."""
