"""The shared store: PostgreSQL for several gateway instances (``store``), its schema, case and
cosignature tables, review reads, verify and audit."""
