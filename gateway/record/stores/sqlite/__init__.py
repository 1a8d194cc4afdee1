"""The embedded store: one SQLite file (``store``: connection, transactions, schema, the
presence lock), run on its own thread as a ``Store`` (``threaded``, where every SQLite failure
becomes the 503 RecordError), with its staff-session, cosignature and review-search code."""
