"""`gateway serve --workers N`: N gateway processes on one machine, one port, one record.

Each worker is a `gateway serve` of its own, listening with SO_REUSEPORT, so the kernel spreads
connections over them. They share the record through its store: with PostgreSQL the batches of
all workers (and of other machines) are sequenced by the store's advisory lock; with SQLite
they take the file's write lock in turn and catch up each other's entries. A hook id is served
once across workers: the store refuses a second attempt's intent while the first holds it.

SIGTERM or SIGINT to this process is passed to every worker, which drains and signs a final
checkpoint. If a worker exits on its own, the others are stopped too.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

EXIT_FAILED = 1


def run_workers(config: Path, workers: int) -> int:
    command = [sys.executable, "-m", "gateway.cli", "--config", str(config), "serve",
               "--reuse-port"]
    procs = [subprocess.Popen(command) for _ in range(workers)]  # noqa: S603 - our own CLI
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while all(proc.poll() is None for proc in procs):
        time.sleep(0.2)
    if not stopping:  # a worker ended on its own: stop the rest
        stop(signal.SIGTERM, None)
    codes = [proc.wait() for proc in procs]
    # A worker ended by the signal itself had not installed its handlers yet, which it does
    # before it listens: it was still starting and had taken no request.
    stopped = {0, -signal.SIGTERM, -signal.SIGINT}
    return 0 if stopping and all(code in stopped for code in codes) else EXIT_FAILED
