"""Hot spots from a py-spy raw profile (collapsed stacks: ``frame;frame;... count`` per line).

Frames read ``function (path:line)``; with ``--threads`` the first one names the thread
(``thread (id): MainThread``, ``record-store_0``, ...).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from pathlib import Path

#: Frames every sample of a thread passes through: they say nothing about where time goes.
_WRAPPERS = ("<module> ", "main (gateway/cli", "_serve (gateway/cli", "_order_hook (",
             "problem_middleware (", "OrderHooks.handle (", "OrderHooks._once (")
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<path>[^():]+)(?::\d+)?\)$")


@attrs.frozen
class Profile:
    samples: int
    by_thread: list[tuple[str, int]]
    self_time: list[tuple[str, int]]
    inclusive: list[tuple[str, int]]


def _name(frame: str) -> str:
    match = _FRAME.match(frame)
    if match is None:
        return frame
    path = match["path"]
    for marker in ("/gateway/", "/carriers/", "/bench/", "/site-packages/", "/lib/python3"):
        if marker in path:
            path = path[path.index(marker) + 1:]
            path = path.removeprefix("site-packages/").removeprefix("lib/")
            break
    return f"{match['func']} ({path})"


def _thread(root: str) -> str:
    """The thread a sample was taken on, from py-spy's ``thread (id): name`` root frame."""
    name = root.partition("): ")[2] or root
    if name == "MainThread":
        return "event loop (MainThread)"
    if name.startswith("record-store"):
        return "record database thread"
    if name.startswith("asyncio_"):
        return "default executor"
    return name


def read(path: Path, *, top: int = 15,
         ours: tuple[str, ...] = ("gateway/", "carriers/")) -> Profile:
    """Self time per function (where samples were taken), time inside each of our own functions
    (inclusive), and samples per thread; counts are samples."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        root = frames[0] if frames[0].startswith("thread (") else ""
        frames = [f for f in frames if not f.startswith(("thread (", "process "))]
        total += count
        threads[_thread(root) if root else "-"] += count
        if not frames:
            continue
        own[_name(frames[-1])] += count
        for name in {_name(f) for f in frames}:
            if any(f"({o}" in name for o in ours) and not name.startswith(_WRAPPERS):
                inclusive[name] += count
    return Profile(total, threads.most_common(), own.most_common(top),
                   inclusive.most_common(top))


def render(profile: Profile, title: str) -> list[str]:
    if not profile.samples:
        return [f"{title}: no samples"]
    pct = 100 / profile.samples
    lines = [f"{title} ({profile.samples:,} samples)"]
    lines.append("  by thread: " + ", ".join(f"{n} {c * pct:.0f}%" for n, c in profile.by_thread))
    lines.append("  self time (where the CPU was):")
    lines += [f"    {c * pct:5.1f}%  {name}" for name, c in profile.self_time]
    lines.append("  inclusive time in gateway/ and carriers/ functions:")
    lines += [f"    {c * pct:5.1f}%  {name}" for name, c in profile.inclusive]
    return lines
