"""The gateway's side of witnessing: every new checkpoint goes to each configured witness in the
background, with the consistency proof from the size that witness last cosigned; valid
cosignatures are kept with the checkpoint in the record's store.

Nothing here is on a hook's path: the record only tells the submitter a checkpoint was stored
(``checkpointed``, which never waits), and one task per witness does the rest. A witness's last
size is learned from its answers (a cosignature, or a 409 naming its size) and kept in memory;
after a restart the first submission says ``old 0`` and the witness's 409 says where it is.
Checkpoints other processes sign on the same record are found by reading the store.

A witness that lags, refuses or reports inconsistency shows in /metrics
(``gateway_witness_*``), in /readyz's ``witnesses`` detail and in the process log; an
inconsistent tree (422), a fork (409 at the very size we both hold) or a witness ahead of the
record are logged at critical level with ``alert=true``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, Final

import aiohttp
import attrs
import structlog
from prometheus_client import CollectorRegistry, Counter, Enum, Gauge

from gateway.errors import RecordError
from gateway.record import Record
from gateway.record.proof import Prover
from gateway.record.record import utc_now
from gateway.witness import client
from gateway.witness.cosignature import note_text
from gateway.witness.policy import WitnessRef
from gateway.witness.settings import Witnessing

__all__ = ["STATES", "WitnessMetrics", "WitnessSubmitter", "witnessing"]

log = structlog.get_logger("gateway.witness")

STATES: Final = ("pending", "ok", "stale", "unreachable", "refused", "inconsistent", "ahead",
                 "bad_answer")
_SERVED_SCAN: Final = 32  # cosigned checkpoints looked at for the newest meeting the quorum
_STALE_RETRIES: Final = 3
_FOLLOW_MIN: Final = 1.0  # seconds between reads of the store for others' checkpoints


class WitnessMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.cosigned_size = Gauge(
            "gateway_witness_cosigned_size", "Size of the newest checkpoint the witness cosigned",
            ["witness"], registry=r)
        self.lag = Gauge(
            "gateway_witness_lag_entries", "Entries in the newest checkpoint beyond the "
            "witness's newest cosignature", ["witness"], registry=r)
        self.submissions = Counter(
            "gateway_witness_submissions", "Checkpoint submissions by answer (cosigned, stale, "
            "refused, inconsistent, unreachable, bad_answer, ahead)", ["witness", "result"],
            registry=r)
        self.state = Enum(
            "gateway_witness_state", "What the witness last answered", ["witness"],
            states=list(STATES), registry=r)
        self.witnessed_size = Gauge(
            "gateway_witnessed_size", "Size of the newest checkpoint whose cosignatures meet "
            "the witness quorum", registry=r)


@attrs.define
class _Peer:
    ref: WitnessRef
    wake: asyncio.Event = attrs.field(factory=asyncio.Event)
    known_size: int | None = None  # the witness's latest cosigned size, as it told us
    cosigned_size: int = 0
    state: str = "pending"
    failures: int = 0
    stale_in_row: int = 0


class WitnessSubmitter:
    def __init__(self, *, record: Record, settings: Witnessing,
                 session: aiohttp.ClientSession, metrics: WitnessMetrics,
                 retry_max: float = 60.0, clock: Callable[[], str] = utc_now) -> None:
        self._record = record
        self._settings = settings
        self._policy = settings.policy
        self._session = session
        self._metrics = metrics
        self._retry_max = retry_max
        self._clock = clock
        self._prover = Prover()
        self._peers = [_Peer(ref) for ref in settings.submit_to]
        self._latest: tuple[int, str] | None = None
        self._cosigners: dict[int, set[str]] = {}
        self._witnessed = 0
        self._closing = asyncio.Event()
        self._progressed = asyncio.Event()  # set whenever a submission ends
        self._tasks: list[asyncio.Task[None]] = []

    # -- life cycle ------------------------------------------------------------------------
    async def start(self) -> None:
        """Submit the newest stored checkpoint, then each new one as the record stores it."""
        latest = await self._record.latest_signed()
        if latest is not None:
            self.checkpointed(latest[1])
        self._record.on_checkpoint(self.checkpointed)
        self._tasks = [asyncio.create_task(self._run(peer), name=f"witness-{peer.ref.name}")
                       for peer in self._peers]
        self._tasks.append(asyncio.create_task(self._follow_store(), name="witness-follow"))

    async def close(self, *, flush: float) -> None:
        """Sign a last checkpoint, give the witnesses up to ``flush`` seconds to cosign it,
        then stop."""
        with contextlib.suppress(RecordError):
            await self._record.checkpoint()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._settled(), flush)
        self._closing.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _settled(self) -> None:
        while any(p.failures == 0 and self._lag(p) > 0 for p in self._peers):
            self._progressed.clear()
            await self._progressed.wait()

    async def _follow_store(self) -> None:
        """Checkpoints signed by other processes on the same record (a CLI command, another
        worker or instance) are not announced here; the store is read for them every
        checkpoint interval (at least every ``_FOLLOW_MIN`` seconds)."""
        pause = max(_FOLLOW_MIN, self._record.checkpoint_interval)
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), pause)
            if self._closing.is_set():
                return
            try:
                latest = await self._record.latest_signed()
            except RecordError as exc:
                log.warning("witness.follow_failed", error=exc.detail)
                continue
            if latest is not None:
                self.checkpointed(latest[1])

    def checkpointed(self, note: str) -> None:
        """A checkpoint was stored (called by the record; returns at once)."""
        size = int(note.split("\n", 2)[1])
        if self._latest is not None and size <= self._latest[0]:
            return
        self._latest = (size, note)
        for peer in self._peers:
            self._metrics.lag.labels(peer.ref.name).set(self._lag(peer))
            peer.wake.set()

    def _lag(self, peer: _Peer) -> int:
        return 0 if self._latest is None else max(0, self._latest[0] - peer.cosigned_size)

    # -- one task per witness --------------------------------------------------------------
    async def _run(self, peer: _Peer) -> None:
        while True:
            await peer.wake.wait()
            peer.wake.clear()
            while self._latest is not None and self._lag(peer) > 0:
                size, note = self._latest
                if await self._submit(peer, size, note):
                    continue
                pause = min(self._retry_max, 0.5 * 2 ** min(peer.failures, 10))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), pause)
                if self._closing.is_set():
                    return

    async def _submit(self, peer: _Peer, size: int, note: str) -> bool:
        """One add-checkpoint; True when it got somewhere (cosigned, or learned the witness's
        size and may try again at once)."""
        try:
            return await self._submit_once(peer, size, note)
        finally:
            self._progressed.set()

    async def _submit_once(self, peer: _Peer, size: int, note: str) -> bool:
        old = peer.known_size or 0
        name = peer.ref.name
        if old > size:
            return await self._ahead(peer, old)
        try:
            proof = await self._prover.consistency(self._record, old, size)
        except (LookupError, RecordError):
            return self._failed(peer, "ahead", "witness.proof_unavailable", old_size=old)
        answer = await client.add_checkpoint(self._session, peer.ref, old_size=old,
                                             proof=proof, note=note,
                                             timeout=self._settings.timeout)
        if isinstance(answer, client.Cosigned):
            await self._cosigned(peer, size, answer.line)
            return True
        if isinstance(answer, client.Stale):
            self._metrics.submissions.labels(name, "stale").inc()
            if answer.size == old:  # the same size we both hold, another root: a fork
                log.critical("witness.fork", alert=True, witness=name, size=old)
                return self._failed(peer, "inconsistent", "witness.fork_refused", size=old)
            peer.known_size = answer.size
            peer.stale_in_row += 1
            if peer.stale_in_row <= _STALE_RETRIES:  # try again at once from its size
                log.info("witness.stale", witness=name, witness_size=answer.size, sent_old=old)
                return True
            return self._failed(peer, "stale", "witness.stale_again", witness_size=answer.size)
        if isinstance(answer, client.Inconsistent):
            log.critical("witness.inconsistent", alert=True, witness=name, old_size=old,
                         size=size)
            return self._failed(peer, "inconsistent", "witness.inconsistent_refused",
                                old_size=old, size=size)
        if isinstance(answer, client.Refused):
            return self._failed(peer, "refused", "witness.refused", status=answer.status)
        if isinstance(answer, client.BadAnswer):
            return self._failed(peer, "bad_answer", "witness.bad_answer", reason=answer.reason)
        return self._failed(peer, "unreachable", "witness.unreachable", reason=answer.reason)

    async def _ahead(self, peer: _Peer, witness_size: int) -> bool:
        """The witness holds a larger tree than our newest checkpoint: another instance's
        checkpoint (fine, once the record holds it), or a record rolled back (an alert)."""
        record_size, _ = await self._record.head()
        if witness_size <= record_size:
            peer.cosigned_size = max(peer.cosigned_size, witness_size)
            self._set_state(peer, "ok")
            return True
        log.critical("witness.ahead_of_record", alert=True, witness=peer.ref.name,
                     witness_size=witness_size, record_size=record_size)
        return self._failed(peer, "ahead", "witness.ahead_refused", witness_size=witness_size)

    async def _cosigned(self, peer: _Peer, size: int, line: str) -> None:
        name = peer.ref.name
        try:
            await self._record.add_cosignatures(size, [(peer.ref.key.label, line)],
                                                      self._clock())
        except RecordError as exc:
            log.error("witness.cosignature_not_stored", witness=name, size=size,
                      error=exc.detail)
        peer.known_size = size
        peer.cosigned_size = max(peer.cosigned_size, size)
        peer.failures = peer.stale_in_row = 0
        self._set_state(peer, "ok")
        self._metrics.submissions.labels(name, "cosigned").inc()
        self._metrics.cosigned_size.labels(name).set(peer.cosigned_size)
        self._metrics.lag.labels(name).set(self._lag(peer))
        log.info("witness.cosigned", witness=name, size=size)
        signers = self._cosigners.setdefault(size, set())
        signers.add(name)
        if self._policy.met_by(signers) and size > self._witnessed:
            self._witnessed = size
            self._metrics.witnessed_size.set(size)
        for old in [s for s in self._cosigners if s < size]:
            del self._cosigners[old]

    def _failed(self, peer: _Peer, state: str, event: str, **fields: object) -> bool:
        peer.failures += 1
        self._set_state(peer, state)
        self._metrics.submissions.labels(peer.ref.name, state).inc()
        level = log.warning if state == "unreachable" else log.error
        level(event, witness=peer.ref.name, failures=peer.failures, **fields)
        return False

    def _set_state(self, peer: _Peer, state: str) -> None:
        peer.state = state
        self._metrics.state.labels(peer.ref.name).state(state)

    # -- what others read ------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """For /readyz: each witness's state, newest cosigned size and lag."""
        return {
            "quorum": self._policy.describe(),
            "latest_checkpoint": None if self._latest is None else self._latest[0],
            "witnesses": {p.ref.name: {"state": p.state, "cosigned_size": p.cosigned_size,
                                       "lag": self._lag(p)} for p in self._peers},
        }

    async def served(self) -> str | None:
        """The newest checkpoint whose cosignatures meet the quorum, those lines appended; until
        one does, the newest checkpoint with what cosignatures it has."""
        latest = await self._record.latest_signed()
        if latest is None:
            return None
        rows = await self._record.cosigned_checkpoints(_SERVED_SCAN)
        for row in rows:
            if self._policy.problem(note_text(row.note), row.lines) is None:
                return row.note + "".join(self._policy.cosigners(note_text(row.note),
                                                                  row.lines).values())
        lines = next((r.lines for r in rows if r.size == latest[0]), "")
        return latest[1] + "".join(self._policy.cosigners(note_text(latest[1]), lines).values())


@contextlib.asynccontextmanager
async def witnessing(settings: Witnessing | None, *, record: Record,
                     registry: CollectorRegistry) -> AsyncIterator[WitnessSubmitter | None]:
    """The submitter for ``settings`` (None when no witness is configured), running while in
    the context; on the way out it waits up to the submission timeout for the last cosigns."""
    if settings is None:
        yield None
        return
    async with aiohttp.ClientSession() as session:
        submitter = WitnessSubmitter(record=record, settings=settings, session=session,
                                     metrics=WitnessMetrics(registry))
        await submitter.start()
        try:
            yield submitter
        finally:
            await submitter.close(flush=settings.timeout)
