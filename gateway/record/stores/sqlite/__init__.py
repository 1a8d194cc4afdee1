"""The embedded store: one SQLite file (``store``: connection, transactions, the presence
lock; ``schema``: a new record's tables and the writer's settings; ``migrate``: older schemas
brought up to date), run on its own thread as a ``Store`` (``threaded``, where every SQLite
failure becomes the 503 RecordError), with its staff-session, cosignature and review-search
code."""
