"""A data-disclosure gateway between a store's order pipeline and the outside world."""
