"""``python -m bench``: the whole benchmark in one run, tables printed at the end.

1. Load: the baseline proxy and the gateway (SQLite record; PostgreSQL when the gateway has that
   store), each at saturation (closed loop) and at half the baseline's saturation rate (open
   loop), against the Posti sandbox on 127.0.0.1.
2. The record at scale: `gateway log verify` on generated records of 100k and 1M entries, and
   review searches on the 1M one.
3. Targets, each with how far the figure is from it; where one is missed, py-spy profiles of the
   gateway under load and of verify, with their hot spots.
4. With --login-flood: order hook latency without and with 100 concurrent wrong logins
   (bench/login_flood.py).

Progress goes to stderr; the report to stdout, and as JSON to var/bench/results.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import attrs
import orjson

from bench import load, procs, profile, record_scale, report
from bench.load import Point, Settings

TARGET_RATIO = 0.8
TARGET_DISCLOSURES = 5000.0
TARGET_ADDED_P99_MS = 2.0
TARGET_VERIFY = 500_000.0
TARGET_RSS_MB = 150.0
#: Cores used by processes other than the benchmark's before a point is flagged as disturbed.
NOISY = 0.2


def _say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _point(server: str, rate: float | None, settings: Settings, **kw: Any) -> Point:  # noqa: ANN401
    what = "saturation" if rate is None else f"open loop at {rate:.0f}/s"
    _say(f"{server}: {what}")
    p = load.run_point(server, rate=rate, settings=settings, **kw)
    _say(f"  {p.rps:.0f} req/s, p99 {p.p99} ms, {p.cpu_ms_per_req:.2f} CPU ms/req")
    return p


@attrs.frozen
class LoadResult:
    points: dict[str, Point]
    ratio: float
    added_p99: float
    lines: list[str]


def _header(args: argparse.Namespace, settings: Settings) -> list[str]:
    rounds = f"best of {args.rounds} alternating rounds" if args.rounds > 1 else "one round"
    trimmed = ("untrimmed (as shipped)" if settings.untrimmed_sandbox else
               "trimmed to the newest 2,000 every second (bench/sandbox.py)")
    return [
        f"Benchmarks: disclosure gateway vs bare aiohttp proxy, {time.strftime('%Y-%m-%d')}",
        (f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
         f"load average at start {os.getloadavg()[0]:.2f}"),
        (f"load: Posti sandbox, server and load generator each in its own process on "
         f"127.0.0.1; saturation = closed loop, {settings.concurrency} connections, {rounds}; "
         "half = open loop at 50% of the baseline's saturation rate, latency from the scheduled "
         f"send time; {settings.warmup:g} s warm-up + {settings.duration:g} s measured per "
         "point; fresh sandbox, server and record for every point; each order from a new "
         f"customer; the sandbox's request log and bookings {trimmed}"),
        "",
    ]


def _load(args: argparse.Namespace, settings: Settings) -> LoadResult:
    """Section 1: every load point, and its table."""
    points: dict[str, Point] = {}
    # Saturation in rounds, baseline and gateway alternating: a machine shared with anything
    # else only ever slows a point down, so the best of each is shown (and every round listed).
    rounds: dict[str, list[Point]] = {"baseline": [], "gateway-sqlite": []}
    for _ in range(args.rounds):
        for server, runs in rounds.items():
            runs.append(_point(server, None, settings))
    points["baseline sat"] = max(rounds["baseline"], key=lambda p: p.rps)
    points["gateway sat"] = max(rounds["gateway-sqlite"], key=lambda p: p.rps)
    half = points["baseline sat"].rps / 2
    own_half = points["gateway sat"].rps / 2
    points["baseline half"] = _point("baseline", half, settings)
    points["gateway half"] = _point("gateway-sqlite", half, settings)
    points["gateway own half"] = _point("gateway-sqlite", own_half, settings)
    pg_missing = load.postgres_unavailable()
    if pg_missing is None:
        points["postgres sat"] = _point("gateway-postgres", None, settings)
        points["postgres half"] = _point("gateway-postgres", half, settings)

    sat = f"saturation c={settings.concurrency}"
    rows = [("baseline proxy", sat, "baseline sat"),
            ("baseline proxy", f"half: open {half:.0f}/s", "baseline half"),
            ("gateway (sqlite)", sat, "gateway sat"),
            ("gateway (sqlite)", f"half: open {half:.0f}/s", "gateway half"),
            ("gateway (sqlite)", f"own half: open {own_half:.0f}/s", "gateway own half")]
    if pg_missing is None:
        rows += [("gateway (postgres)", sat, "postgres sat"),
                 ("gateway (postgres)", f"half: open {half:.0f}/s", "postgres half")]
    lines = [report.LOAD_HEADER]
    lines += [report.load_row(label, what, points[key]) for label, what, key in rows]
    if pg_missing is not None:
        lines.append(f"postgres: not available ({pg_missing})")
    if args.rounds > 1:
        lines.append("saturation rounds (best shown): " + "; ".join(
            f"{server} {', '.join(f'{p.rps:.0f}' for p in runs)} req/s"
            for server, runs in rounds.items()))
    busy = [f"{label} {what}" for label, what, key in rows if points[key].other_cores > NOISY]
    if busy:
        lines.append(f"NOTE: other processes on the machine used more than {NOISY} cores during:"
                     f" {'; '.join(busy)}; those figures are lower than a quiet machine gives")
    base, gw = points["baseline sat"], points["gateway sat"]
    ratio = gw.rps / base.rps
    b_p99, g_p99 = points["baseline half"].p99, points["gateway half"].p99
    added = (g_p99 if g_p99 is not None else float("inf")) - (b_p99 or 0.0)
    lines.append(
        f"gateway/baseline: throughput {ratio:.2f}x; p99 at half load {report.ms(b_p99)} -> "
        f"{report.ms(g_p99)} ms (added {added:+.1f} ms); CPU per request "
        f"{gw.cpu_ms_per_req / base.cpu_ms_per_req:.1f}x")
    lines.append("(CPU ms/req: utime+stime of the server process over the measured window / "
                 "requests answered; likewise for the sandbox and the load generator (client); "
                 "others: cores busy with every other process on the machine meanwhile; peak "
                 "RSS: the server's VmHWM at the end of the point)")
    lines.append("")
    return LoadResult(points, ratio, added, lines)


def _record(args: argparse.Namespace, directory: Path,
            ) -> tuple[list[record_scale.Generated], list[record_scale.VerifyRun],
                       list[record_scale.Search], list[str]]:
    """Section 2: generated records, verify on each, review searches on the largest."""
    sizes = tuple(args.records)
    _say(f"generating records of {', '.join(f'{s:,}' for s in sizes)} entries")
    generated = record_scale.generate(directory, sizes)
    _say(f"  generated in {generated[-1].seconds:.0f} s")
    runs = []
    for g in generated:
        _say(f"gateway log verify on {g.entries:,} entries")
        runs.append(record_scale.verify(g, workers=args.verify_workers))
        _say(f"  {runs[-1].rate:,.0f} entries/s, peak {runs[-1].peak_rss_mb:.1f} MB")
    lines = [(f"gateway log verify (a subprocess: python -m gateway.cli log verify --db X "
              f"--public-key Y --quiet; wall time including interpreter start; a checkpoint "
              f"every 1,000 entries; records generated in {generated[-1].seconds:.0f} s)")]
    lines += report.verify_rows(runs)
    lines.append("")
    _say("review searches")
    how, found = record_scale.searches(generated[-1])
    lines.append(f"review search on {generated[-1].entries:,} entries (200 random keys each; "
                 f"{how})")
    lines += report.search_rows(found)
    lines.append("")
    return generated, runs, found, lines


def _targets(loaded: LoadResult, verify_rate: float) -> list[report.Target]:
    gw = loaded.points["gateway sat"]
    rss = max(p.peak_rss_mb for k, p in loaded.points.items() if k.startswith("gateway"))
    return [
        report.Target("throughput >= 0.8x baseline", loaded.ratio, TARGET_RATIO,
                      higher_is_better=True, unit="x", shown=f"{loaded.ratio:.2f}x"),
        report.Target(">= 5,000 durable disclosures/s on 2 cores", gw.rps, TARGET_DISCLOSURES,
                      higher_is_better=True, unit="/s", shown=f"{gw.rps:,.0f}/s"),
        report.Target("added p99 <= 2 ms at half load", loaded.added_p99, TARGET_ADDED_P99_MS,
                      higher_is_better=False, unit="ms", shown=f"{loaded.added_p99:+.1f} ms"),
        report.Target("verify >= 500,000 entries/s (marginal)", verify_rate, TARGET_VERIFY,
                      higher_is_better=True, unit="/s", shown=f"{verify_rate:,.0f}/s"),
        report.Target("RSS <= 150 MB under load", rss, TARGET_RSS_MB,
                      higher_is_better=False, unit="MB", shown=f"{rss:.1f} MB"),
    ]


def _profiles(missed: list[report.Target], settings: Settings, directory: Path,
              largest: record_scale.Generated) -> list[str]:
    """Section 3b: py-spy profiles of what misses its target."""
    spy = load.py_spy()
    if spy is None:
        return ["", "profiles: py-spy is not installed (pip install -e '.[bench]')"]
    lines = [""]
    if any(not t.name.startswith("verify") for t in missed):
        p = _point("gateway-sqlite", None, settings, profile=directory / "gateway.pyspy")
        if p.profile is not None:
            lines += profile.render(profile.read(p.profile), "py-spy: gateway at saturation "
                                    f"({p.rps:.0f} req/s while sampled at 200 Hz)")
            lines.append("")
    if any(t.name.startswith("verify") for t in missed):
        _say("profiling verify")
        out = directory / "verify.pyspy"
        record_scale.verify(largest, wrap=[spy, "record", "--rate", "100", "--format", "raw",
                                           "--output", str(out), "--"])
        lines += profile.render(profile.read(out),
                                f"py-spy: gateway log verify on {largest.entries:,} entries")
    return lines


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    settings = Settings(concurrency=args.concurrency, warmup=args.warmup, duration=args.duration,
                        untrimmed_sandbox=args.untrimmed_sandbox)
    out = _header(args, settings)
    loaded = _load(args, settings)
    out += loaded.lines
    results: dict[str, Any] = {
        "load": {k: attrs.asdict(v, value_serializer=_plain) for k, v in loaded.points.items()}}
    with tempfile.TemporaryDirectory(prefix="bench-record-") as tmp:
        generated, runs, found, lines = _record(args, Path(tmp))
        out += lines
        results["verify"] = [attrs.asdict(r) for r in runs]
        results["search"] = [attrs.asdict(s) for s in found]
        targets = _targets(loaded, report.marginal_rate(runs))
        out.append("targets")
        out += report.target_rows(targets)
        results["targets"] = [{"name": t.name, "measured": t.measured, "goal": t.goal,
                               "met": t.met} for t in targets]
        missed = [t for t in targets if not t.met]
        if missed and args.profile:
            out += _profiles(missed, settings, Path(tmp), generated[-1])
    if args.instances:
        from bench import instances  # noqa: PLC0415

        _say(f"PostgreSQL instances: {args.instances}")
        scaled = [instances.run_instances(n, concurrency=settings.concurrency,
                                          warmup=settings.warmup, duration=settings.duration)
                  for n in args.instances]
        out += ["", "several instances on one PostgreSQL record (gateway serve --workers N)",
                *instances.lines(scaled)]
        results["instances"] = scaled
    if args.login_flood:
        from bench import login_flood  # noqa: PLC0415

        flood = login_flood.parser().parse_args(
            ["--rounds", str(args.rounds), "--duration", str(args.duration)])
        out += ["", *login_flood.run(flood)]
    out += ["", f"whole run: {time.monotonic() - started:.0f} s"]
    text = "\n".join(out)
    print(text)
    results["report"] = text
    results_dir = procs.ROOT / "var" / "bench"
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "results.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    return 0


def _plain(_inst: object, _field: object, value: object) -> object:
    return str(value) if isinstance(value, Path) else value


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--concurrency", type=int, default=64, help="connections at saturation")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds before each measurement")
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per point")
    p.add_argument("--rounds", type=int, default=2,
                   help="saturation rounds per server, alternating (the best is shown)")
    p.add_argument("--records", type=int, nargs="+", default=[100_000, 1_000_000],
                   help="record sizes for verify (ascending; searches run on the last)")
    p.add_argument("--verify-workers", type=int, default=len(os.sched_getaffinity(0)),
                   help="gateway log verify --workers (default: the cores usable here)")
    p.add_argument("--untrimmed-sandbox", action="store_true",
                   help="serve the sandbox exactly as shipped (its cost grows with its bookings)")
    p.add_argument("--no-profile", dest="profile", action="store_false",
                   help="skip the py-spy profiles of missed targets")
    p.add_argument("--instances", type=int, nargs="*", default=[],
                   help="also measure durable disclosures/s for N gateway instances on one "
                        "PostgreSQL record (e.g. --instances 1 2 4)")
    p.add_argument("--login-flood", action="store_true",
                   help="also measure order hook latency with and without 100 concurrent "
                        "wrong logins (bench/login_flood.py)")
    p.add_argument("--quick", action="store_true",
                   help="a short smoke run: 1 s warm-up, 3 s points, records of 10k and 50k")
    args = p.parse_args(argv)
    if args.quick:
        args.warmup, args.duration, args.records, args.rounds = 1.0, 3.0, [10_000, 50_000], 1
    if sorted(args.records) != args.records or args.records[0] < 1000:
        p.error("--records must be ascending sizes of at least 1000")
    if not 1 <= args.rounds <= 5:
        p.error("--rounds must be 1 to 5")
    args.records = [r - r % 1000 for r in args.records]
    return run(args)
