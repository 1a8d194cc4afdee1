"""Fakes as modules implementing the gateway's real protocols, for tests below HTTP."""
