"""The record's stores: the contract every store implements (``contract``), the SQL both
databases run written once (``statements``), the reads they answer alike (``reads``) and the
state changes of side operations planned once (``changes``); then one package per database,
holding only what differs: SQLite embedded (``sqlite/``) and PostgreSQL shared (``postgres/``)."""
