"""The HTTP edge: the aiohttp application (``app``) and the server it runs under (``server``),
who may call what (``access``, and ``request_keys``: what it hands the handlers after it), the
client behind proxies (``proxies``), RFC 9457 problems (``problems``), metrics, one module per
API (``hooks_api``: the order hook; ``sessions``: staff API sessions; ``review_api``,
``authority_api``, ``tiles``; ``witness_api``: the standalone witness's own application), the
server-rendered pages (``pages/``) and the OpenAPI document (``openapi/``).

Only this package and the command line import it; the services below take no aiohttp type."""
