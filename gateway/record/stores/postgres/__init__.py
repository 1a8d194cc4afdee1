"""The shared store: PostgreSQL for several gateway instances (``store``: pool, advisory locks,
bulk batch writes), its schema (``schema``) and the migrations run at open (``migrate``), review
searches and staff sessions, cosignatures, verify and audit."""
