"""Benchmarks: the gateway against a bare aiohttp proxy, in one run (``python -m bench``)."""
