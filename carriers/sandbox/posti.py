"""Sandbox for Posti via Pakettikauppa's Prinetti XML API (see carriers/posti.py for sources).

Checks Routing.Key = HMAC-SHA256(secret, account + Routing.Id) like the real service, refuses
a document missing what the product requires with a ``<Response>`` carrying status 230 and
the missing element names, books (returns too: product 2108, the customer as Shipment.Sender),
answers labels by tracking code or by our reference, and cancels on ``/shipment/cancel``
(form parameters signed with the same secret; ``{"success": false}`` for a shipment it does
not hold).

The OAuth variant: ``POST /oauth/token?grant_type=client_credentials`` with Basic auth of the
client id and secret answers ``{"token_type": "bearer", "access_token", "expires_in"}``
(lifetime ``CONTROL.token_ttl``); a document whose ROUTING carries Routing.Token instead of
Routing.Key (and a cancel with ``Authorization: Bearer``) is accepted while the token is
known, unexpired and not revoked (``CONTROL.revoke_tokens()``), and otherwise refused with
HTTP 401 and the ``<Response>`` form before anything is handled. ``token_requests(app)``
counts the token requests, so tests can see a token being reused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from aiohttp import web

from carriers.posti.echannel import (
    ARRIVAL_NOTICE_SERVICE,
    COD_SERVICE,
    COD_SPECIFIERS,
    ID_CHECK_SERVICE,
    PERSONAL_DELIVERY_SERVICE,
    PICKUP_POINT_SERVICE,
    RECIPIENT,
    SENDER,
)
from carriers.sandbox._core import (
    BOOKINGS,
    CANCELLED,
    CONTROL,
    RECEIVED,
    Received,
    basic_auth,
    book,
    booking_by,
    digits,
    received_body,
    same,
    sandbox_app,
)
from carriers.sandbox.credentials import ALTERNATIVE_CREDENTIALS, SANDBOX_CREDENTIALS

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "BASE_PATH", "CONTROL", "FIELDS", "RECEIVED", "SENDER_FIELDS", "create_app",
    "receiver_part", "rest_text", "return_rest_text", "sender_part", "token_requests",
]  # fmt: skip

BASE_PATH = ""
#: Prinetti recipient element -> our receiver field.
FIELDS: Mapping[str, str] = {theirs: ours for ours, theirs in RECIPIENT.items()}
#: Prinetti sender element -> our customer field (a return: the customer sends).
SENDER_FIELDS: Mapping[str, str] = {theirs: ours for ours, theirs in SENDER.items()}

_COMMON = (
    "Sender.Name1", "Sender.Postcode", "Sender.City", "Sender.Country",
    "Recipient.Name1", "Recipient.Postcode", "Recipient.City", "Recipient.Country",
    "Consignment.Reference", "Consignment.Product",
)  # fmt: skip
#: What each product needs beyond the common elements.
_PRODUCT_NEEDS: Mapping[str, tuple[str, ...]] = {
    "2103": ("Recipient.Phone",),
    "2104": ("Recipient.Addr1", "Recipient.Phone"),
    "2108": (),
}

#: The additional services each product takes, as Pakettikauppa's shipping-method list gives
#: them (3104 Särkyvä, 3143 LQ, 3165 Säilytysajan pidennys and 3174 Suuri too; the ID check's
#: code is the adapter's assumption), and the specifiers each takes (all required).
_SERVICES: Mapping[str, frozenset[str]] = {
    "2103": frozenset({PICKUP_POINT_SERVICE, COD_SERVICE, ARRIVAL_NOTICE_SERVICE,
                       PERSONAL_DELIVERY_SERVICE, ID_CHECK_SERVICE, "3104", "3143", "3165",
                       "3174"}),
    "2104": frozenset({COD_SERVICE, ID_CHECK_SERVICE, "3104", "3143", "3174"}),
    "2108": frozenset({"3143"}),
}
_SPECIFIERS: Mapping[str, tuple[str, ...]] = {
    PICKUP_POINT_SERVICE: ("pickup_point_id",),
    COD_SERVICE: COD_SPECIFIERS,
    "3143": ("lqcount", "lqweight"),
}

_DEFAULT = SANDBOX_CREDENTIALS["posti"]
_OAUTH = ALTERNATIVE_CREDENTIALS["posti"]
CREDENTIALS = web.AppKey("posti_credentials", tuple[str, str])
OAUTH_CLIENT = web.AppKey("posti_oauth_client", tuple[str, str])
#: Issued access token -> (monotonic expiry, CONTROL.token_generation when issued).
TOKENS = web.AppKey("posti_tokens", dict[str, tuple[float, int]])
TOKEN_PATH = "/oauth/token"  # noqa: S105 - a path, not a secret
#: Tracking codes of every parcel, by the first one (the booking's).
_NUMBERS = web.AppKey("posti_numbers", dict[str, list[str]])


def create_app(
    *, api_key: str = _DEFAULT["api_key"], secret: str = _DEFAULT["secret"],
    client_id: str = _OAUTH["client_id"], client_secret: str = _OAUTH["client_secret"],
) -> web.Application:
    """The Posti sandbox; it accepts ``api_key`` / ``secret`` (HMAC Routing.Key) and tokens
    issued to ``client_id`` / ``client_secret`` (Routing.Token), the adapter's two modes."""
    app = sandbox_app()
    app[CREDENTIALS] = (api_key, secret)
    app[OAUTH_CLIENT] = (client_id, client_secret)
    app[TOKENS] = {}
    app[_NUMBERS] = {}
    app.router.add_post(TOKEN_PATH, _token)
    app.router.add_post("/prinetti/create-shipment", _create_shipment)
    app.router.add_post("/prinetti/get-shipping-label", _get_shipping_label)
    app.router.add_post("/shipment/cancel", _cancel)
    return app


def token_requests(app: web.Application) -> int:
    """How many token requests the sandbox received (answered or not)."""
    return sum(1 for r in app[RECEIVED] if r.path == TOKEN_PATH)


async def _token(request: web.Request) -> web.Response:
    form = await request.post()
    grant = request.query.get("grant_type") or str(form.get("grant_type", ""))
    if grant != "client_credentials":
        return web.json_response({"error": "unsupported_grant_type"}, status=400)
    client_id, client_secret = request.app[OAUTH_CLIENT]
    given = basic_auth(request)
    if given is None or not (same(given[0], client_id) and same(given[1], client_secret)):
        return web.json_response({"error": "invalid_client"}, status=401,
                                 headers={"WWW-Authenticate": "Basic"})
    control = request.app[CONTROL]
    token = secrets.token_urlsafe(32)
    request.app[TOKENS][token] = (time.monotonic() + control.token_ttl, control.token_generation)
    return web.json_response(
        {"token_type": "bearer", "access_token": token, "expires_in": control.token_ttl}
    )


def _token_valid(request: web.Request, token: str) -> bool:
    issued, control = request.app[TOKENS].get(token), request.app[CONTROL]
    if issued is None or control.refuse_tokens:
        return False
    expires, generation = issued
    return time.monotonic() < expires and generation == control.token_generation


def receiver_part(received: Received) -> dict[str, str]:
    """The Shipment.Recipient elements that arrived, by Prinetti name."""
    recipient = received.body.find("Shipment/Shipment.Recipient")
    return {child.tag: child.text or "" for child in recipient} if recipient is not None else {}


def sender_part(received: Received) -> dict[str, str]:
    """The Shipment.Sender elements that arrived (a return: the customer's), by Prinetti name."""
    sender = received.body.find("Shipment/Shipment.Sender")
    return {child.tag: child.text or "" for child in sender} if sender is not None else {}


def return_rest_text(received: Received) -> str:
    """Everything of a return booking that arrived except the Shipment.Sender element."""
    return rest_text(received, without="Shipment.Sender")


def rest_text(received: Received, *, without: str = "Shipment.Recipient") -> str:
    """Everything that arrived except the ``without`` element of the Shipment (the party whose
    fields a test checks on their own)."""
    root = ET.fromstring(received.raw)  # noqa: S314 - our own client's XML
    shipment = root.find("Shipment")
    party = root.find(f"Shipment/{without}")
    if shipment is not None and party is not None:
        shipment.remove(party)
    return f"{received.path}\n{received.headers}\n{ET.tostring(root, encoding='unicode')}"


async def _create_shipment(request: web.Request) -> web.Response:
    root = received_body(request)
    if root is None or root.tag != "eChannel":
        return _response(400, "230", "XML is invalid")
    if not _authentic(request, root):
        return _response(401, "100", f"Authentication failed: {_auth_element(root)}")
    missing = [tag for tag in _required(root) if not _text(root, tag)]
    if missing:
        # Like real services, the message echoes what it got: adapters must not pass it on.
        echo = _text(root, "Recipient.Name1")
        return _response(
            400, "230", f"XML is invalid: missing {', '.join(missing)} (recipient {echo!r})"
        )
    wrong = _additional_services(root)
    if wrong:
        return _response(400, "230", f"XML is invalid: {wrong}")
    reference = _text(root, "Consignment.Reference")
    parcels = root.findall(".//Consignment.Parcel")
    prefix = "JJFI6" + digits(5)
    numbers = [prefix + digits(11) for _ in parcels]
    booking = book(request, reference=reference, tracking_number=numbers[0])
    request.app[_NUMBERS][booking.tracking_number] = numbers
    answer = _response_root("0", "OK")
    ET.SubElement(answer, "response.reference", uuid=booking.carrier_id).text = reference
    for number in numbers:
        ET.SubElement(answer, "response.trackingcode", uuid=booking.carrier_id).text = number
    return _xml(200, answer)


async def _get_shipping_label(request: web.Request) -> web.Response:
    root = received_body(request)
    if root is None or root.tag != "eChannel":
        return _response(400, "230", "XML is invalid")
    if not _authentic(request, root):
        return _response(401, "100", f"Authentication failed: {_auth_element(root)}")
    bookings = request.app[BOOKINGS]
    reference = _text(root, "PrintLabel/Reference")
    codes = [e.text for e in root.findall("PrintLabel/TrackingCode") if e.text]
    if reference:
        found = bookings.get(reference)
    else:
        found = next((b for b in bookings.values() if b.tracking_number in codes), None)
    if found is None:
        return _response(404, "100", "Shipment not found")
    answer = _response_root("0", "OK")
    if reference:
        ET.SubElement(answer, "response.reference", uuid=found.carrier_id).text = reference
        for number in request.app[_NUMBERS][found.tracking_number]:
            ET.SubElement(answer, "response.trackingcode").text = number
    ET.SubElement(answer, "response.file", encode="base64").text = base64.b64encode(
        found.label
    ).decode()
    return _xml(200, answer)


async def _cancel(request: web.Request) -> web.Response:
    form = await request.post()
    params = {k: str(v) for k, v in form.items()}
    api_key, secret = request.app[CREDENTIALS]
    scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        authentic = _token_valid(request, bearer.strip())
    else:
        given = params.pop("hash", "")
        message = "&".join(params[k] for k in sorted(params))
        expected = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
        authentic = same(params.get("api_key", ""), api_key) and same(given, expected)
    if not authentic:
        return web.json_response({"success": False, "message": "Authentication failed"},
                                 status=401)
    missing = [k for k in ("shipment_id", "timestamp") if not params.get(k)]
    if missing:
        return web.json_response(
            {"success": False, "message": f"Missing {', '.join(missing)}"}, status=400)
    found = booking_by(request, carrier_id=params["shipment_id"])
    if found is None:
        return web.json_response({"success": False})
    request.app[CANCELLED].add(found.reference)
    return web.json_response({"success": True})


def _required(root: ET.Element) -> list[str]:
    product = _text(root, "Consignment.Product")
    needs = [*_COMMON, *_PRODUCT_NEEDS.get(product, ())]
    if product == "2103" and not _pickup_point(root):
        needs.append("AdditionalService.Specifier[pickup_point_id]")
    if not root.findall(".//Consignment.Parcel/Parcel.Weight"):
        needs.append("Parcel.Weight")
    return needs


def _additional_services(root: ET.Element) -> str | None:
    """What is wrong with the document's additional services, or None: a code the product
    does not take, a specifier missing or unknown, an ill-formed cash-on-delivery value, or a
    service whose receiver data is missing (an arrival notice without phone or e-mail)."""
    product = _text(root, "Consignment.Product")
    seen: set[str] = set()
    for service in root.iter("Consignment.AdditionalService"):
        code = _text(service, "AdditionalService.ServiceCode")
        if code not in _SERVICES.get(product, frozenset()) or code in seen:
            return f"AdditionalService.ServiceCode {code} not available for product {product}"
        seen.add(code)
        given = {s.get("name", ""): (s.text or "").strip()
                 for s in service.iter("AdditionalService.Specifier")}
        expected = _SPECIFIERS.get(code, ())
        if set(given) != set(expected) or not all(given.values()):
            return f"AdditionalService.Specifier of {code} must be exactly {', '.join(expected)}"
        if code == COD_SERVICE and not _cod_valid(given):
            return f"AdditionalService.Specifier of {code} is ill-formed"
    if ARRIVAL_NOTICE_SERVICE in seen and not (_text(root, "Recipient.Phone")
                                               or _text(root, "Recipient.Email")):
        return (f"AdditionalService {ARRIVAL_NOTICE_SERVICE} needs Recipient.Phone or "
                "Recipient.Email")
    named = {PERSONAL_DELIVERY_SERVICE, ID_CHECK_SERVICE} & seen
    if named and not _text(root, "Recipient.Name1"):
        return f"AdditionalService {min(named)} needs Recipient.Name1"
    return None


def _cod_valid(given: Mapping[str, str]) -> bool:
    """Cash on delivery as Pakettikauppa documents it: a positive amount, an IBAN (mod 97), a
    BIC of 8 or 11 characters, and a Finnish bank reference with its 7-3-1 check digit."""
    try:
        amount = float(given["amount"])
    except ValueError:
        return False
    iban = given["account"].replace(" ", "").upper()
    rearranged = iban[4:] + iban[:4]
    digits_only = "".join(str(int(c, 36)) for c in rearranged) if rearranged.isalnum() else ""
    reference = given["reference"].replace(" ", "")
    body, check = reference[:-1], reference[-1:]
    weights = (7, 3, 1)
    total = sum(int(d) * weights[i % 3] for i, d in enumerate(reversed(body))) if \
        body.isdigit() else -1
    return (
        amount > 0
        and len(iban) >= 15 and digits_only != "" and int(digits_only) % 97 == 1  # noqa: PLR2004
        and len(given["codbic"]) in (8, 11) and given["codbic"].isalnum()
        and 3 <= len(reference) <= 20 and total >= 0 and check.isdigit()  # noqa: PLR2004
        and (10 - total % 10) % 10 == int(check)
    )


def _pickup_point(root: ET.Element) -> str:
    for service in root.iter("Consignment.AdditionalService"):
        if _text(service, "AdditionalService.ServiceCode") == PICKUP_POINT_SERVICE:
            for specifier in service.iter("AdditionalService.Specifier"):
                if specifier.get("name") == "pickup_point_id" and specifier.text:
                    return specifier.text
    return ""


def _auth_element(root: ET.Element) -> str:
    return "Routing.Token" if root.find("ROUTING/Routing.Token") is not None else "Routing.Key"


def _authentic(request: web.Request, root: ET.Element) -> bool:
    account = _text(root, "ROUTING/Routing.Account")
    if root.find("ROUTING/Routing.Token") is not None:
        client_id, _secret = request.app[OAUTH_CLIENT]
        token = _text(root, "ROUTING/Routing.Token")
        return same(account, client_id) and _token_valid(request, token)
    api_key, secret = request.app[CREDENTIALS]
    routing_id = _text(root, "ROUTING/Routing.Id")
    expected = hmac.new(secret.encode(), (account + routing_id).encode(), hashlib.sha256)
    given = _text(root, "ROUTING/Routing.Key")
    return same(account, api_key) and same(given, expected.hexdigest())


def _text(root: ET.Element, path: str) -> str:
    found = root.find(path if "/" in path else f".//{path}")
    return (found.text or "").strip() if found is not None else ""


def _response_root(status: str, message: str) -> ET.Element:
    answer = ET.Element("Response")
    ET.SubElement(answer, "response.status").text = status
    ET.SubElement(answer, "response.message").text = message
    return answer


def _response(http_status: int, status: str, message: str) -> web.Response:
    return _xml(http_status, _response_root(status, message))


def _xml(http_status: int, root: ET.Element) -> web.Response:
    return web.Response(
        status=http_status,
        body=ET.tostring(root, encoding="utf-8", xml_declaration=True),
        content_type="text/xml",
        charset="utf-8",
    )
