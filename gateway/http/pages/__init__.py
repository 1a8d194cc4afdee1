"""Server-rendered pages: one jinja2 environment over ``templates/``, autoescaping everything;
the review pages (``review``), the authority-request pages (``authority``) and their bar
charts (``chart``).

Pages hold personal values (a reviewer's search, an access report), so they are never cached
and never framed."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import jinja2
from aiohttp import web

from gateway.http.pages.chart import bar_chart, month_items, recipient_items
from gateway.http.request_keys import MEMBER, SESSION_TOKEN
from gateway.review.transparency_report import MEASURES, shown
from gateway.staff.accounts import csrf_token

ENV: Final = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.globals.update(bar_chart=bar_chart, recipient_items=recipient_items,
                   month_items=month_items, measures=MEASURES)
ENV.filters["shown"] = shown

#: Headers on every page: no caching of personal data, no framing, no scripts at all.
PAGE_HEADERS: Final = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}


def render(request: web.Request, template: str, *, status: int = 200,
           **context: Any) -> web.Response:  # noqa: ANN401
    member = request.get(MEMBER)
    token = request.get(SESSION_TOKEN)
    context.setdefault("can", {})
    text = ENV.get_template(template).render(
        member=member, csrf=csrf_token(token) if token else "", request_path=request.path,
        **context)
    return web.Response(text=text, status=status, content_type="text/html",
                        headers=PAGE_HEADERS)


def render_text(template: str, **context: Any) -> str:  # noqa: ANN401
    """A page as a standalone document (the CLI's --html), with no session."""
    return ENV.get_template(template).render(member=None, csrf="", request_path="",
                                             standalone=True, can={}, **context)
