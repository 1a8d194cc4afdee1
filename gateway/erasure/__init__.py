"""Erasure: a customer's data key deleted on request or by retention, deferred while the law keeps
the records (``requests``), and the recipients told of it, GDPR Art. 19 (``notices`` over the
``channels`` config.toml names)."""
