"""The one place the gateway's parts are built from its configuration: the store, the record
over it, and the carriers behind their resilience policy. ``gateway serve`` (the app), the
command line and the demo build them here alike. The offline checks of a PostgreSQL record
(``gateway log verify`` and ``audit`` with ``--url``) are reached here too, so nothing outside
``gateway/record`` but this module imports a store."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import aiohttp

from carriers import ADAPTERS, Guarded
from carriers import Observer as CarrierObserver
from gateway.config import Config, RecordConfig
from gateway.record import Record
from gateway.record.audit import AuditReport
from gateway.record.checkpoint import Signer, Verifier
from gateway.record.record import Observer as RecordObserver
from gateway.record.stores.contract import Store
from gateway.record.stores.sqlite.store import SqliteStore
from gateway.record.stores.sqlite.threaded import ThreadedStore
from gateway.record.verify_range import Report


def build_store(rc: RecordConfig) -> Store:
    """The store ``rc`` names: PostgreSQL at its URL, else the SQLite file."""
    if rc.store == "postgres" and rc.url is not None:
        # Loaded only when configured: asyncpg alone takes ~0.1 s to import, which every
        # command on a SQLite record would pay for nothing.
        from gateway.record.stores.postgres.store import PostgresStore  # noqa: PLC0415

        return PostgresStore(rc.url.value, schema=rc.schema)
    return ThreadedStore(SqliteStore(rc.path))


def build_record(config: Config, observer: RecordObserver | None = None, *,
                 now: Callable[[], float] = time.monotonic) -> Record:
    """The record ``config`` names (not opened); ``observer`` sees its commits (metrics);
    ``now`` is the clock its checkpoint age is read by."""
    rc = config.record
    return Record(
        store=build_store(rc),
        kek=config.keys.kek,
        previous_keks=config.keys.previous_keks,
        verifiers=config.previous_checkpoint_keys,
        signer=Signer.from_key_string(config.keys.checkpoint_signing),
        origin=config.origin,
        batch_max=rc.batch_max,
        queue_max=rc.queue_max,
        checkpoint_every=rc.checkpoint_every,
        checkpoint_interval=rc.checkpoint_interval,
        now=now,
        witness=rc.path.with_name(rc.path.name + ".checkpoint"),
        observer=observer,
    )


def build_carriers(config: Config, credentials: Mapping[str, Mapping[str, str]],
                   session: aiohttp.ClientSession,
                   observer: CarrierObserver | None = None) -> dict[str, Guarded]:
    """Each configured carrier's adapter over ``session``, behind its resilience policy;
    ``credentials`` as ``Config.carrier_credentials`` read them."""
    return {
        name: Guarded(ADAPTERS[name](
            session=session,
            base_url=cc.base_url,
            credentials=credentials[name],
            timeout=cc.timeout,
            **cc.options,
        ), policy=cc.resilience, observer=observer)
        for name, cc in config.carriers.items()
    }


async def verify_postgres_record(
    url: str,
    schema: str,
    verifiers: Sequence[Verifier],
    *,
    origin: str | None = None,
    trusted: Sequence[str] = (),
    progress: Callable[[int], None] | None = None,
    cosigned: Callable[[str, str], str | None] | None = None,
) -> Report:
    """``gateway log verify --url``: the PostgreSQL record at ``url`` verified entry by entry."""
    # Loaded only for a PostgreSQL record: asyncpg takes ~0.1 s to import.
    from gateway.record.stores.postgres.verify import verify_postgres  # noqa: PLC0415

    return await verify_postgres(url, schema, verifiers, origin=origin, trusted=trusted,
                                 progress=progress, cosigned=cosigned)


async def audit_postgres_record(url: str, schema: str,
                                progress: Callable[[int], None] | None = None) -> AuditReport:
    """``gateway log audit --url``: the PostgreSQL record's state rebuilt from its entries and
    compared with its tables."""
    # Loaded only for a PostgreSQL record: asyncpg takes ~0.1 s to import.
    from gateway.record.stores.postgres.audit import audit_postgres  # noqa: PLC0415

    return await audit_postgres(url, schema, progress)
