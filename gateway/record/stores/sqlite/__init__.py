"""The embedded store: one SQLite file (``store``), with its case, staff, cosignature tables and
its review reads."""
