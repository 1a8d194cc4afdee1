"""A SQLite record another process keeps locked answers 503 problem+json, as an unreachable
PostgreSQL does, never 500."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

from tests.conftest import Harness

#: Holds exclusive POSIX locks on every reader slot of a WAL database's shared-memory file
#: (bytes 123..127 of ``-shm``), as a process stuck mid-checkpoint or a backup tool would: no
#: connection can begin a read; SQLite gives up with an OperationalError after ~10 s.
_HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 5, 123)
print("locked", flush=True)
sys.stdin.read()
"""


@contextmanager
def locked(record: Path) -> Iterator[None]:
    with subprocess.Popen(  # noqa: S603 - this interpreter, fixed script
            [sys.executable, "-c", _HOLDER, f"{record}-shm"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as holder:
        assert holder.stdout is not None
        assert holder.stdin is not None
        try:
            assert holder.stdout.readline().strip() == "locked"
            yield
        finally:
            holder.stdin.close()
            holder.wait(timeout=10)


async def test_a_review_search_on_a_locked_record_answers_503(gateway: Harness) -> None:
    """GET /v1/review/entries while no read can begin: 503 problem+json (record unavailable),
    not 500; once the lock is gone, the same search answers again."""
    headers = await gateway.as_staff("reviewer")
    url = gateway.url + "/v1/review/entries?kind=disclosure.outcome"
    with locked(gateway.config.record.path):
        async with gateway.http.get(url, headers=headers) as resp:
            status, kind, body = resp.status, resp.content_type, await resp.read()
    assert status == 503, body
    assert kind == "application/problem+json"
    problem = orjson.loads(body)
    assert problem["status"] == 503
    assert problem["type"].endswith("record-unavailable")
    async with gateway.http.get(url, headers=headers) as resp:
        assert resp.status == 200
