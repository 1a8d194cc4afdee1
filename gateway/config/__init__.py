"""config.toml -> a frozen, validated configuration tree.

``tree``: ``Config``, the root, read from a file (and ``load_policy``, only its [policy]);
``sections``: the settings of its tables (record, carriers, TLS, keys, trusted proxies'
``Network``); ``secret``: secrets referenced from the file and read when needed. Private:
``_tables`` (one loader per table) and ``_parse`` (typed reads of a table's values).
"""

from gateway.config.secret import Secret as Secret
from gateway.config.secret import SecretRef as SecretRef
from gateway.config.sections import CarrierConfig as CarrierConfig
from gateway.config.sections import Keys as Keys
from gateway.config.sections import Network as Network
from gateway.config.sections import RecordConfig as RecordConfig
from gateway.config.sections import TlsConfig as TlsConfig
from gateway.config.tree import Config as Config
from gateway.config.tree import load_policy as load_policy
from gateway.config.tree import read_toml as read_toml

__all__ = [
    "CarrierConfig",
    "Config",
    "Keys",
    "Network",
    "RecordConfig",
    "Secret",
    "SecretRef",
    "TlsConfig",
    "load_policy",
    "read_toml",
]
