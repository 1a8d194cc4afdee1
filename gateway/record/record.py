"""The record as the service uses it: group commit from one writer task, subject keys, hooks.

Handlers put (draft, future) on a bounded queue. One writer task drains what is queued, up to
``batch_max``, commits it in one transaction on the database thread, and only then resolves the
futures: acknowledged means durable. A full queue makes callers wait (back-pressure).

While one batch commits, the writer already hands the store the next (at most two are in
flight; the store commits them one after the other, the second at once after the first, not an
event-loop turn later). Each batch's waiters still hear only once their own batch is committed.

The writer signs a checkpoint once ``checkpoint_every`` entries are unsigned, and at the latest
``checkpoint_interval`` seconds after the first entry no checkpoint covers, writes or none.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time as _time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import structlog

from gateway.errors import KeyTaken, RecordError, SideOpRefused
from gateway.record import sealing
from gateway.record.checkpoint import Checkpoint, Signer, Verifier, sign_checkpoint
from gateway.record.entry import Appended, Draft, iso_time
from gateway.record.reads import Reads
from gateway.record.resume import resume
from gateway.record.rows import NewKey, SideOp, SideOps
from gateway.record.stores.contract import Store

log = structlog.get_logger("gateway.record")

_STOP = object()
#: Put by a batch that leaves entries unsigned, for a writer waiting on the queue with no
#: deadline (it looked before that batch was committed): look again, now with a deadline.
_LOOK = object()
#: Batches handed to the store at once: one committing, the next waiting on the store's thread.
_IN_FLIGHT = 2


class Observer(Protocol):
    def committed(self, drafts: Sequence[Draft], seconds: float) -> None: ...
    def checkpointed(self) -> None: ...


def _write_durably(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically and durably (write, fsync, rename, fsync dir)."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # several workers may write it
    with tmp.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _new_keys(op: SideOp | None) -> list[NewKey]:
    if isinstance(op, NewKey):
        return [op]
    if isinstance(op, SideOps):
        return [o for o in op.ops if isinstance(o, NewKey)]
    return []


def utc_now() -> str:
    return iso_time(datetime.now(UTC))


class Record(Reads):
    """The only door to the record's storage: services append, seal and read through it
    (its reads: ``gateway.record.reads``)."""

    def __init__(
        self,
        *,
        store: Store,
        kek: bytes,
        previous_keks: Sequence[bytes] = (),
        verifiers: Sequence[Verifier] = (),
        signer: Signer,
        origin: str,
        batch_max: int = 512,
        queue_max: int = 8192,
        checkpoint_every: int = 1000,
        checkpoint_interval: float = 10.0,
        clock: Callable[[], str] = utc_now,
        now: Callable[[], float] = _time.monotonic,
        witness: Path | None = None,
        observer: Observer | None = None,
    ) -> None:
        self._store = store
        self._kek = kek
        self._keks = (kek, *previous_keks)
        self._signer = signer
        self._verifiers = (signer.verifier(), *verifiers)
        self._origin = origin
        self._batch_max = batch_max
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=queue_max)
        self._checkpoint_every = checkpoint_every
        self._checkpoint_interval = checkpoint_interval
        self._clock = clock
        self._now = now
        self._witness = witness
        #: The checkpoint file's writes run on a thread of the record's own (opened with it),
        #: never on the default executor, where other work could hold up the writer.
        self._files: ThreadPoolExecutor | None = None
        self._observer = observer
        self.last_error: str | None = None
        self._writer: asyncio.Task[None] | None = None
        #: Entries this process knows are committed, and how many a checkpoint covers.
        self._committed = 0
        self._signed = 0
        #: While entries are unsigned: the (monotonic) time to sign by, and the time by ``now``
        #: the oldest of them was committed.
        self._unsigned: tuple[float, float] | None = None
        self.batches = 0
        self._signing = asyncio.Lock()
        # subject -> (its NewKey op, data key): created here, not yet committed.
        self._pending_keys: dict[str, tuple[NewKey, bytes]] = {}
        self._listeners: list[Callable[[str], None]] = []

    # -- life cycle ------------------------------------------------------------------------
    async def open(self) -> None:
        """Open the store and take up its tree as the newest signed checkpoint vouches for it
        (``resume.resume``); refuse a record that no longer matches that checkpoint, or the one kept
        in the witness file."""
        await self._store.open()
        try:
            latest = await resume(self._store, self._verifiers, self._origin, self._witness)
        except BaseException:
            await self._store.close()
            raise
        self._signed = latest[0] if latest else 0
        self._committed = (await self._store.head())[0]
        if self._committed > self._signed:
            self._mark_unsigned()
        self._files = ThreadPoolExecutor(max_workers=1, thread_name_prefix="record-files")
        self._writer = asyncio.create_task(self._write_loop(), name="record-writer")
        self._writer.add_done_callback(self._writer_ended)

    async def close(self) -> None:
        """Flush what is queued, sign a final checkpoint, close the store. A writer that broke
        is logged, and the store is closed all the same (no final checkpoint then)."""
        broken: Exception | None = None
        try:
            if self._writer is not None:
                writer, self._writer = self._writer, None
                if not writer.done():
                    # Room for it is made by the writer, or, if the writer stops meanwhile, by
                    # its end refusing what is queued.
                    await self._queue.put(_STOP)
                try:
                    await writer
                except Exception as exc:  # noqa: BLE001 - raised below, once the store is closed
                    log.error("record.writer_failed", error=type(exc).__name__)
                    broken = exc
                else:
                    with contextlib.suppress(RecordError):
                        await self.checkpoint()
        finally:
            if self._files is not None:
                self._files.shutdown()
                self._files = None
            await self._store.close()
        if broken is not None:
            raise RecordError(f"the record writer failed ({type(broken).__name__}); no final "
                              "checkpoint was signed") from broken

    # -- appending -------------------------------------------------------------------------
    async def append(self, draft: Draft, *ops: SideOp | None) -> Appended:
        """Append one entry with the side operations written in its transaction (hook
        bookkeeping, a new subject key, a key erasure, a state change it records: see
        ``gateway.record.rows``); returns once it is durable. Raises RecordError if it is not,
        or the refusal of a side operation whose condition no longer holds (nothing kept)."""
        writer = self._writer
        if writer is None or writer.done():
            raise RecordError("the record writer is not running")
        side: SideOp | None
        if len(ops) <= 1:
            side = ops[0] if ops else None
        else:
            present = [op for op in ops if op is not None]
            side = (
                None if not present else present[0] if len(present) == 1
                else SideOps(tuple(o for op in present
                                   for o in (op.ops if isinstance(op, SideOps) else (op,)))))
        future: asyncio.Future[Appended] = writer.get_loop().create_future()
        await self._queue.put((draft, side, future))
        if writer.done():  # it stopped while this waited for room: nobody reads the queue now
            self._refuse_queued()
        return await future

    async def _write_loop(self) -> None:
        in_flight: set[asyncio.Task[None]] = set()
        try:
            while True:
                if len(in_flight) >= _IN_FLIGHT:
                    await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                in_flight = self._still_in_flight(in_flight)
                if len(in_flight) >= _IN_FLIGHT:
                    continue
                if self._unsigned is None or not self._queue.empty():
                    first = await self._queue.get()
                else:
                    try:
                        first = await asyncio.wait_for(
                            self._queue.get(), max(0.0, self._unsigned[0] - _time.monotonic()))
                    except TimeoutError:  # entries unsigned for the interval, no writes since
                        await self._checkpoint_due()
                        continue
                if first is _STOP:
                    return
                if first is _LOOK:
                    continue
                batch = [first]
                stop = False
                while len(batch) < self._batch_max and not self._queue.empty():
                    item = self._queue.get_nowait()
                    if item is _STOP:
                        stop = True
                        break
                    if item is not _LOOK:
                        batch.append(item)
                try:  # a batch handed over meanwhile may have broken: then this one is not
                    in_flight = self._still_in_flight(in_flight)
                except Exception:
                    for _, _, future in batch:
                        if not future.done():
                            future.set_exception(RecordError("the record writer stopped"))
                    raise
                task = asyncio.create_task(self._commit(batch))
                task.add_done_callback(self._commit_ended)
                in_flight.add(task)
                if stop:
                    return
        finally:
            # Stopping waits for the batches handed over: each of their waiters hears.
            if in_flight:
                await asyncio.wait(in_flight)
            self._still_in_flight(in_flight)

    def _writer_ended(self, _writer: asyncio.Task[None]) -> None:
        """Whatever is left in the queue when the writer stops (closed, or broken) is never
        written: its appends are refused, and appends waiting for room get it."""
        self._refuse_queued()

    def _refuse_queued(self) -> None:
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if isinstance(item, tuple) and not item[2].done():
                item[2].set_exception(RecordError("the record writer is not running"))

    def _commit_ended(self, task: asyncio.Task[None]) -> None:
        """A batch whose commit itself broke (not a failure its waiters were told of) makes the
        record report itself not writing at once, not only when the writer next looks."""
        if not task.cancelled() and (exc := task.exception()) is not None:
            self.last_error = type(exc).__name__

    @staticmethod
    def _still_in_flight(tasks: set[asyncio.Task[None]]) -> set[asyncio.Task[None]]:
        """The batches not yet committed; one whose commit itself broke stops the writer, as
        it would have without batches in flight (``_commit`` answers every waiter first)."""
        for task in tasks:
            if task.done():
                task.result()
        return {task for task in tasks if not task.done()}

    async def _commit(self, batch: list[Any]) -> None:
        drafts = [d for d, _, _ in batch]
        hooks = [h for _, h, _ in batch]
        started = _time.perf_counter()
        try:
            appended = await self._store.append_batch(drafts, hooks, self._clock(), self._sign)
        except SideOpRefused as refused:
            # One draft's side operation was refused (its hook is held by another attempt, or
            # its new key lost to another writer's): that draft fails alone, with every draft
            # sealed under the same lost key, and the rest are committed again.
            lost = {k.subject for k in _new_keys(hooks[refused.index])} if isinstance(
                refused.error, KeyTaken) else set()
            for subject in lost:
                self._pending_keys.pop(subject, None)
            failed = {refused.index} | {i for i, op in enumerate(hooks)
                                        if any(k.subject in lost for k in _new_keys(op))}
            for i in failed:
                if not batch[i][2].done():  # a cancelled waiter needs no answer
                    batch[i][2].set_exception(refused.error)
            batch = [item for i, item in enumerate(batch) if i not in failed]
            if batch:
                await self._commit(batch)
            return
        except Exception as exc:  # noqa: BLE001 - every waiter must hear of the failure
            log.error("record.batch_failed", size=len(batch), error=type(exc).__name__)
            self.last_error = type(exc).__name__
            error = exc if isinstance(exc, RecordError) else RecordError("the record failed")
            # A new key that did not commit is forgotten: the next attempt reads what is stored.
            for op in hooks:
                for key in _new_keys(op):
                    self._pending_keys.pop(key.subject, None)
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        self.batches += 1
        self.last_error = None
        if self._pending_keys:
            for op in hooks:
                for key in _new_keys(op):
                    if (pending := self._pending_keys.get(key.subject)) and pending[0] is key:
                        del self._pending_keys[key.subject]
        if self._observer is not None:
            self._observer.committed(drafts, _time.perf_counter() - started)
        for (_, _, future), result in zip(batch, appended, strict=True):
            if not future.done():
                future.set_result(result)
        self._committed = max(self._committed, appended[-1].seq + 1)
        if self._unsigned is None:
            self._mark_unsigned()
            with contextlib.suppress(asyncio.QueueFull):  # a full queue is being read anyway
                self._queue.put_nowait(_LOOK)
        if self._due():
            await self._checkpoint_due()

    def _due(self) -> bool:
        """Unsigned entries have waited the interval, or there are ``checkpoint_every``."""
        return self._unsigned is not None and (
            _time.monotonic() >= self._unsigned[0]
            or self._committed - self._signed >= self._checkpoint_every)

    async def _checkpoint_due(self) -> None:
        """Sign the checkpoint the unsigned entries are due; one at a time (both batches in
        flight may find it due), and not again once the other has signed them."""
        async with self._signing:
            if self._due():
                await self._sign_due()

    def _mark_unsigned(self) -> None:
        self._unsigned = (_time.monotonic() + self._checkpoint_interval, self._now())

    async def _sign_due(self) -> None:
        """Sign the checkpoint the unsigned entries are due; if it fails, try again after
        another interval (the entries' age keeps counting)."""
        try:
            await self.checkpoint()
        except RecordError:
            if self._unsigned is not None:
                self._unsigned = (_time.monotonic() + self._checkpoint_interval,
                                  self._unsigned[1])

    def _sign(self, size: int, root: bytes) -> str:
        return sign_checkpoint(Checkpoint(self._origin, size, root), self._signer)

    async def checkpoint(self) -> str | None:
        """Sign and store a checkpoint of the record as it stands; returns the note."""

        signed = 0

        def sign(size: int, root: bytes) -> str:
            nonlocal signed
            signed = size
            return sign_checkpoint(Checkpoint(self._origin, size, root), self._signer)

        note = await self._store.sign_checkpoint(sign, self._clock())
        self._signed = max(self._signed, signed)
        if self._signed >= self._committed:
            self._unsigned = None
        if self._observer is not None:
            self._observer.checkpointed()
        if note is not None and self._witness is not None:
            await asyncio.get_running_loop().run_in_executor(
                self._files, _write_durably, self._witness, note)
        for listener in self._listeners:
            if note is not None:
                listener(note)
        return note

    def on_checkpoint(self, listener: Callable[[str], None]) -> None:
        """Call ``listener`` with each checkpoint note once it is stored; it must not block."""
        self._listeners.append(listener)

    # -- subject keys ----------------------------------------------------------------------
    async def subject_key(self, subject: str, *, create: bool) -> bytes | None:
        """The subject's data key, created on first use if ``create``; None once erased.

        Not cached: an erasure made by any process or instance takes effect at once. A key
        created here is stored at once, in its own transaction; on the hot path use
        ``key_for``, which stores it with the entry sealed under it."""
        if create:
            key, op = await self.key_for(subject)
            if op is not None:
                await self._store.add_key(subject, op.wrapped, op.time)
                self._pending_keys.pop(subject, None)
                return await self.subject_key(subject, create=False)
            return key
        wrapped = await self._store.wrapped_key(subject)
        return None if wrapped is None else sealing.unwrap(self._keks, subject, wrapped)

    async def key_for(self, subject: str) -> tuple[bytes, NewKey | None]:
        """The key to seal a new entry of ``subject`` with, and, for a subject without one, the
        side operation that stores it: pass it to ``append`` with the first entry sealed under
        it, so the key costs no transaction of its own. Until that entry commits, other entries
        of the subject get the same key and operation."""
        wrapped = await self._store.wrapped_key(subject)
        if wrapped is not None:
            return sealing.unwrap(self._keks, subject, wrapped), None
        if (pending := self._pending_keys.get(subject)) is None:
            key = sealing.new_key()
            op = NewKey(subject, sealing.wrap(self._kek, subject, key), self._clock())
            pending = self._pending_keys[subject] = (op, key)
        return pending[1], pending[0]

    async def rewrap(self) -> int:
        """Wrap every subject key with the current key-encryption key; returns how many were
        rewrapped. Run after rotating the KEK, with the old one still configured as previous."""
        current = sealing.kek_id(self._kek)
        changed = [
            (subject, sealing.wrap(self._kek, subject, sealing.unwrap(self._keks, subject, w)))
            for subject, w in await self._store.wrapped_keys()
            if sealing.wrapped_by(w) != current
        ]
        await self._store.replace_keys(changed)
        return len(changed)

    async def seal(self, subject: str, context: str, values: dict[str, Any]) -> bytes:
        """Seal with the subject's key, storing a new key at once (see ``key_for``)."""
        key = await self.subject_key(subject, create=True)
        assert key is not None
        return sealing.seal(key, context, values)

    async def unseal(self, subject: str, context: str, sealed: bytes) -> dict[str, Any] | None:
        key = await self.subject_key(subject, create=False)
        return None if key is None else sealing.unseal(key, context, sealed)

    # -- state kept beside the entries -------------------------------------------------------
    async def add_cosignatures(self, size: int, lines: Sequence[tuple[str, str]],
                               time: str) -> None:
        """Keep witnesses' (key, cosignature line) pairs for the checkpoint at ``size``."""
        await self._store.add_cosignatures(size, lines, time)

    async def start_session(self, token_hash: str, username: str, created: str,
                            expires: str) -> None:
        """Store a staff session (dropping sessions expired by ``created``)."""
        await self._store.add_session(token_hash, username, created, expires)

    async def end_session(self, token_hash: str) -> None:
        await self._store.end_session(token_hash)

    @property
    def writing(self) -> bool:
        """The writer runs and its last batch, if any, was committed."""
        return self._writer is not None and not self._writer.done() and self.last_error is None

    def checkpoint_age(self) -> float:
        """Seconds (by ``now``) the oldest entry no checkpoint covers has waited; 0 when every
        entry this process knows of is covered."""
        return 0.0 if self._unsigned is None else max(0.0, self._now() - self._unsigned[1])

    @property
    def checkpoint_interval(self) -> float:
        return self._checkpoint_interval
