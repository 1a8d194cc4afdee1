"""The shared store: PostgreSQL for several gateway instances (``store``: pool, advisory locks,
bulk batch writes), its schema and migrations, review searches and staff sessions,
cosignatures, verify and audit."""
