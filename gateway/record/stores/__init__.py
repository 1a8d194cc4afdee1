"""The record's stores: the contract every store implements (``contract``), and one package per
database, SQLite embedded (``sqlite/``) and PostgreSQL shared (``postgres/``)."""
