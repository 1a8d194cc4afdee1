"""Authority requests: the request and its workflow (``workflow``), the steps after intake
(``steps``), preservation orders (``preservation``), the one package an approved request gets
(``package``), the authorities and rules from config.toml (``settings``), and the desk staff use
from every door (``desk``)."""
