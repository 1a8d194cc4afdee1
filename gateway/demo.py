"""`gateway demo`: the gateway on the embedded store, the bundled carrier sandboxes, sample
signed orders from a pretend pipeline, then the record printed and verified.

The customers are fictional; their values never reach the process log."""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import orjson
from aiohttp import web

from carriers.sandbox import RECEIVED, run_sandbox
from carriers.sandbox.credentials import ALTERNATIVE_CREDENTIALS, SANDBOX_CREDENTIALS
from gateway import logs
from gateway.config import Config, read_toml
from gateway.errors import ConfigError
from gateway.http.app import create_app
from gateway.keygen import keygen
from gateway.operations.signature import HookSecret, sign_headers
from gateway.record import Kind
from gateway.record.checkpoint import Verifier
from gateway.record.proof import Prover
from gateway.record.reads import RecordReader
from gateway.record.sealing import subject_ref
from gateway.record.verify import verify_sqlite
from gateway.sample import sample_config
from gateway.transparency.receipt import ReceiptInvalid, receipts_for, verify_receipt

SECRETS_DIR = Path("var/secrets")


def _customer(n: int, first: str, last: str, street: str, postal: str, town: str,
              **extra: Any) -> dict[str, Any]:  # noqa: ANN401
    return {"id": f"C-{n}", "first_name": first, "last_name": last, "street": street,
            "postal_code": postal, "town": town, "country": "FI",
            "phone": f"+35840000{n:04d}", "email": f"{first.lower()}.{n}@example.invalid",
            "marketing_consent": n % 2 == 0, **extra}


def sample_orders() -> list[dict[str, Any]]:
    """(order id, customer, delivery) for each carrier and service the default policy allows."""
    people = [
        _customer(1, "Aino", "Esimerkki", "Hämeenkatu 1 A 2", "33100", "Tampere"),
        _customer(2, "Eino", "Malli", "Aleksanterinkatu 5", "00100", "Helsinki"),
        _customer(3, "Helmi", "Testinen", "Kauppakatu 3 B", "40100", "Jyväskylä"),
        _customer(4, "Väinö", "Kokeilu", "Rantakatu 9", "90100", "Oulu", phone=None),
    ]
    deliveries = [
        {"carrier": "posti", "service": "pickup_point", "pickup_point_id": "1011", "notice": "sms"},
        {"carrier": "posti", "service": "home_delivery"},
        {"carrier": "matkahuolto", "service": "pickup_point", "pickup_point_id": "6340",
         "notice": "email"},
        {"carrier": "matkahuolto", "service": "home_delivery"},
        {"carrier": "postnord", "service": "service_point", "pickup_point_id": "588462"},
        {"carrier": "dhl_express", "service": "express", "notice": "email"},
        {"carrier": "budbee", "service": "home", "door_code": "4321"},
        {"carrier": "budbee", "service": "box", "pickup_point_id": "BOX0042"},
    ]
    return [
        {"type": "order.ready_to_ship", "timestamp": "2026-11-22T10:00:00Z", "data": {
            "order_id": f"J-{1000 + i}", "customer": people[i % 3], "delivery": delivery,
            "parcels": [{"weight_kg": 1.2 + i, "length_cm": 30, "width_cm": 20,
                         "height_cm": 10}]}}
        for i, delivery in enumerate(deliveries)
    ]


def sandbox_credentials(raw_config: Mapping[str, Any]) -> dict[str, str]:
    """Environment variable -> value, for each carrier credential the config reads from the
    environment, set to what that carrier's sandbox accepts."""
    out = {}
    for carrier, table in raw_config.get("carriers", {}).items():
        accepted = {**SANDBOX_CREDENTIALS.get(carrier, {}),
                    **ALTERNATIVE_CREDENTIALS.get(carrier, {})}
        for name, ref in table.get("credentials", {}).items():
            if isinstance(ref, Mapping) and "env" in ref and name in accepted:
                out[str(ref["env"])] = accepted[name]
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def demo_config(config_path: Path, directory: Path) -> Path:
    """The config file the demo runs on: the one there is; where none is (no ./config.toml: an
    installed gateway run anywhere), the sample bundled with the package, copied into
    ``directory`` so its secrets are made beside it."""
    if config_path.exists():
        return config_path
    copy = directory / "config.toml"
    copy.write_text(sample_config(), encoding="utf-8")
    print(f"no ./config.toml here: running on the bundled sample configuration ({copy})")  # noqa: T201
    return copy


async def run_demo(config_path: Path, directory: Path,  # noqa: PLR0915 - a script
                   list_record: Callable[[Path], object], *, config_named: bool = True) -> int:
    """Run the demo in ``directory`` on ``config_path`` (``config_named``: the user named it,
    so it must exist); ``list_record`` prints the record file it wrote (the command line's
    ``log show --db``)."""
    if config_named and not config_path.exists():  # refused before anything is emptied
        raise ConfigError(f"cannot read {config_path}: no such file (without --config, "
                          "the demo runs on ./config.toml or the bundled sample)")
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    config_path = demo_config(config_path, directory)
    raw = read_toml(config_path)  # an unreadable config stops the demo before it writes
    base = config_path.parent
    for path in keygen(base / SECRETS_DIR, origin="jerone.fi/disclosure-record"):
        print(f"created secret file {path}")  # noqa: T201
    for env, value in sandbox_credentials(raw).items():
        os.environ.setdefault(env, value)
    config = Config.from_toml(config_path)
    log_file = (directory / "gateway.log").open("w", encoding="utf-8")
    logs.configure(stream=log_file)
    print(f"process log (JSON lines, no personal data): {directory / 'gateway.log'}")  # noqa: T201
    # The demo signs as the pipeline does with a shared secret (v1); public keys only verify.
    hook_secret = next((k for k in config.keys.hooks if isinstance(k, HookSecret)), None)
    if hook_secret is None:
        raise SystemExit("demo: the hooks secret holds no whsec_ secret to sign the orders with")

    async with AsyncExitStack() as stack:
        sandboxes = {}
        carriers = {}
        for name, carrier in config.carriers.items():
            url, app = await stack.enter_async_context(run_sandbox(name))
            sandboxes[name] = app
            carriers[name] = attrs.evolve(carrier, base_url=url)
            print(f"sandbox {name:<12} {url}")  # noqa: T201
        config = attrs.evolve(config, carriers=carriers,
                              record=attrs.evolve(config.record, path=directory / "record.sqlite"))
        runner = web.AppRunner(create_app(config))
        await runner.setup()
        port = _free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        gateway = f"http://127.0.0.1:{port}/v1/hooks/orders"
        print(f"gateway              {gateway}\n")  # noqa: T201

        async with aiohttp.ClientSession() as http:
            async def send(event: dict[str, Any], msg_id: str | None = None,
                           secret: Any = hook_secret) -> tuple[int, dict[str, Any]]:  # noqa: ANN401
                body = orjson.dumps(event)
                headers = sign_headers(secret, msg_id or f"msg_{uuid.uuid4().hex}", body)
                headers["content-type"] = "application/json"
                async with http.post(gateway, data=body, headers=headers) as resp:
                    return resp.status, await resp.json(content_type=None)

            print("order   carrier/service            status  tracking            fields sent")  # noqa: T201
            first_id = "msg_demo_first"
            first_answer: dict[str, Any] = {}
            booked: list[dict[str, Any]] = []
            for i, event in enumerate(sample_orders()):
                status, answer = await send(event, first_id if i == 0 else None)
                first_answer = first_answer or answer
                booked.append(answer)
                d = event["data"]["delivery"]
                print(f"{event['data']['order_id']:<7} {d['carrier'] + '/' + d['service']:<26} "  # noqa: T201
                      f"{status:<7} {answer.get('tracking_number', '-'):<19} "
                      f"{','.join(answer.get('fields', [])) or answer.get('detail')}")

            before = sum(len(app[RECEIVED]) for app in sandboxes.values())
            status, again = await send(sample_orders()[0], first_id)
            after = sum(len(app[RECEIVED]) for app in sandboxes.values())
            same = again.get("tracking_number") == first_answer.get("tracking_number")
            print(f"\nretried hook {first_id}: {status}, same answer: {same}, "  # noqa: T201
                  f"new carrier requests: {after - before}")

            no_phone = sample_orders()[0]
            no_phone["data"]["customer"]["phone"] = None
            status, answer = await send(no_phone)
            print(f"order without a phone for a parcel locker: {status} {answer['detail']}")  # noqa: T201


            status, answer = await send(sample_orders()[1], secret=HookSecret(os.urandom(32)))
            print(f"hook signed with an unknown key: {status} {answer['title']}")  # noqa: T201

            status, answer = await send({
                "type": "order.cancelled", "timestamp": "2026-11-22T12:00:00Z",
                "data": {"order_id": "J-1000", "disclosure_id": booked[0]["disclosure_id"]}})
            print(f"cancel J-1000 at posti: {status} "  # noqa: T201
                  f"{answer.get('result') or answer.get('detail')}")
            returned = sample_orders()[1]["data"]
            del returned["delivery"]
            status, answer = await send({
                "type": "order.return_requested", "timestamp": "2026-11-29T09:00:00Z",
                "data": {**returned, "return": {"carrier": "posti"}}})
            print(f"return label for J-1001 with posti: {status} "  # noqa: T201
                  f"{answer.get('tracking_number', '-')}, customer fields sent: "
                  f"{','.join(answer.get('fields', [])) or answer.get('detail')}")

        print("\nwhich customer values each carrier sandbox received:")  # noqa: T201
        for name, app in sandboxes.items():
            for request in app[RECEIVED]:
                fields = arrived(request.text())
                if fields:
                    print(f"  {name:<12} {request.path:<40} {', '.join(fields)}")  # noqa: T201
        await runner.cleanup()  # stops the gateway: flushes the record, signs a final checkpoint

    db = directory / "record.sqlite"
    print(f"\nthe record at {db}:")  # noqa: T201

    list_record(db)
    verifier = Verifier.from_key_string(
        (base / SECRETS_DIR / "checkpoint.pub").read_text(encoding="utf-8").strip())
    report = verify_sqlite(db, [verifier], origin=config.origin)
    print(f"\nverify: {report.summary()}")  # noqa: T201
    receipt_ok = await check_receipt(db, directory / "receipt.tlog-proof", verifier,
                                     subject_ref(config.keys.subject_hmac, "C-1"))
    log_file.close()
    return 0 if report.ok and receipt_ok else 1


async def check_receipt(db: Path, out: Path, verifier: Verifier, subject: str) -> bool:
    """Write the receipt of one customer's first disclosure, as the access report carries it,
    and check it as the customer would (`gateway receipt verify`)."""
    record = RecordReader.sqlite(db)
    await record.open()
    try:
        rows = [r for r in await record.subject_entries(subject)
                if orjson.loads(r.body)["kind"] == Kind.INTENT][:1]
        made = await receipts_for(record, {r.seq: r.body for r in rows}, prover=Prover())
    finally:
        await record.close()
    if not made:
        print("receipt: none to check")  # noqa: T201
        return False
    out.write_text(next(iter(made.values())), encoding="utf-8")
    try:
        receipt = verify_receipt(out.read_text(encoding="utf-8"), [verifier])
    except ReceiptInvalid as exc:
        print(f"receipt {out}: REFUSED ({exc.detail})")  # noqa: T201
        return False
    print(f"receipt {out} (customer C-1, position {receipt.index}): OK")  # noqa: T201
    return True


def arrived(text: str) -> list[str]:
    """Which of the sample customers' fields appear in ``text`` (what a carrier received)."""
    found = []
    for event in sample_orders():
        c = event["data"]["customer"]
        values = {"name": f"{c['first_name']} {c['last_name']}", "street": c["street"],
                  "postal_code": c["postal_code"], "town": c["town"], "phone": c["phone"],
                  "email": c["email"]}
        if values["name"] in text or c["last_name"] in text:
            found = [k for k, v in values.items() if v and (v in text or
                     (k == "name" and c["last_name"] in text))]
            if c["marketing_consent"] and "marketing" in text.lower():
                found.append("marketing_consent")
            break
    return found
