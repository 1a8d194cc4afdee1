"""The record published for checking from outside: tiles and entry bundles
(c2sp.org/tlog-tiles), a monitor that follows them, and customer receipts
(c2sp.org/tlog-proof)."""
