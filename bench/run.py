"""``python -m bench``: the whole benchmark in one run, tables printed at the end.

1. Load: the baseline proxy and the gateway (SQLite record; PostgreSQL when the gateway has that
   store) against the Posti sandbox on 127.0.0.1, in alternating rounds: at saturation (closed
   loop) with the Python load generator and with wrk (bench/wrk.py), and at a realistic 100
   hooks/s (open loop); then at half the baseline's saturation rate, which on a shared 2-core
   machine measures queueing. Throughput and CPU per disclosure as gateway/baseline ratios,
   added latency at 100 hooks/s as gateway minus baseline.
2. The record at scale: `gateway log verify` on generated records of 100k and 1M entries, and
   review searches on the 1M one, with the review targets' figures (bench/review_targets.py:
   customer and order search p99, an inclusion proof from a cold start in a fresh process, a
   year's transparency counts); the record alone (bench/record_throughput.py, a few seconds).
3. Targets, issue 20's in its order, each with how far the figure is from it; where one is
   missed, py-spy profiles of the gateway under load and of verify, with their hot spots.
4. Unless --no-login-flood: order hook latency without and with 100 concurrent wrong logins
   (bench/login_flood.py), its p99 ratio among the targets.

Progress goes to stderr; the report to stdout, and as JSON to var/bench/results.json.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import attrs
import orjson

from bench import load, login_flood, procs, profile, record_scale, report, review_targets, wrk
from bench.load import Point, Settings

TARGET_RATIO = 0.8
TARGET_CPU_RATIO = 1.25
#: The record alone (no carrier, intent + outcome, acknowledged when durable), on SQLite.
TARGET_DISCLOSURES = 10_000.0
#: The realistic rate (open loop) the added latency is measured at, and its limits.
REALISTIC_RATE = 100.0
TARGET_ADDED_P50_MS = 2.0
TARGET_ADDED_P99_MS = 5.0
TARGET_VERIFY = 500_000.0
#: Review at scale, on the largest generated record.
TARGET_SEARCH_P99_MS = 5.0
TARGET_COLD_PROOF_MS = 50.0
TARGET_YEAR_COUNTS_MS = 1000.0
TARGET_RSS_MB = 150.0
#: The targets measured under HTTP load: a miss among them profiles the gateway at saturation.
LOAD_TARGETS = ("throughput", "CPU", "added", "hook p99", "RSS")
#: Cores used by processes other than the benchmark's before a point is flagged as disturbed.
NOISY = 0.2


def _say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _point(server: str, rate: float | None, settings: Settings, **kw: Any) -> Point:  # noqa: ANN401
    what = (f"saturation ({kw.get('generator', 'python')})" if rate is None
            else f"open loop at {rate:.0f}/s")
    _say(f"{server}: {what}")
    p = load.run_point(server, rate=rate, settings=settings, **kw)
    _say(f"  {p.rps:.0f} req/s, p99 {p.p99} ms, {p.cpu_ms_per_req:.2f} CPU ms/req")
    return p


@attrs.frozen
class LoadResult:
    points: dict[str, Point]
    #: Per load generator ("python", "wrk"): gateway/baseline throughput at saturation and CPU
    #: per disclosure, each from the best round of each server.
    ratios: dict[str, tuple[float, float]]
    #: Added p50 and p99 at the realistic rate (gateway minus baseline, best rounds).
    added: tuple[float, float]
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
         f"127.0.0.1; saturation = closed loop, {settings.concurrency} connections, with the "
         "Python generator (bench/loadgen.py) and with wrk (bench/wrk.py, hooks signed just "
         f"before the point); realistic = open loop at {REALISTIC_RATE:g} hooks/s; "
         f"{rounds}, baseline and gateway alternating; queueing = open loop at 50% of the "
         "baseline's saturation rate (on a shared 2-core machine this measures the queue, "
         "not the gateway's own time); open-loop latency from the scheduled send time; "
         f"{settings.warmup:g} s warm-up + {settings.duration:g} s measured per point; fresh "
         "sandbox, server and record for every point; each order from a new customer; the "
         f"sandbox's request log and bookings {trimmed}"),
        "",
    ]


def _p(value: float | None) -> float:
    return float("inf") if value is None else value


def _load(args: argparse.Namespace, settings: Settings) -> LoadResult:
    """Section 1: every load point, and its table."""
    points: dict[str, Point] = {}
    generators = ["python", *(["wrk"] if wrk.path() else [])]
    servers = ("baseline", "gateway-sqlite")
    # Rounds, baseline and gateway alternating: a machine shared with anything else only ever
    # slows a point down, so the best of each is shown (and every round listed).
    sat: dict[tuple[str, str], list[Point]] = {(s, g): [] for g in generators for s in servers}
    real: dict[str, list[Point]] = {s: [] for s in servers}
    for _ in range(args.rounds):
        for gen in generators:
            for server in servers:
                sat[server, gen].append(_point(server, None, settings, generator=gen))
        for server in servers:
            real[server].append(_point(server, REALISTIC_RATE, settings))
    for (server, gen), runs in sat.items():
        points[f"{server} sat {gen}"] = max(runs, key=lambda p: p.rps)
        points[f"{server} cpu {gen}"] = min(runs, key=lambda p: p.cpu_ms_per_req)
    for server, runs in real.items():
        points[f"{server} real"] = min(runs, key=lambda p: _p(p.p99))
        points[f"{server} real p50"] = min(runs, key=lambda p: _p(p.p50))
    half = points["baseline sat python"].rps / 2
    points["baseline half"] = _point("baseline", half, settings)
    points["gateway half"] = _point("gateway-sqlite", half, settings)
    pg_missing = load.postgres_unavailable()
    if pg_missing is None:
        points["postgres sat"] = _point("gateway-postgres", None, settings)
        points["postgres real"] = _point("gateway-postgres", REALISTIC_RATE, settings)

    c = f"c={settings.concurrency}"
    rows = []
    for label, server in (("baseline proxy", "baseline"), ("gateway (sqlite)", "gateway-sqlite")):
        rows += [(label, f"saturation {c} {gen}", f"{server} sat {gen}") for gen in generators]
        rows.append((label, f"realistic: open {REALISTIC_RATE:g}/s", f"{server} real"))
    rows += [("baseline proxy", f"queueing: open {half:.0f}/s", "baseline half"),
             ("gateway (sqlite)", f"queueing: open {half:.0f}/s", "gateway half")]
    if pg_missing is None:
        rows += [("gateway (postgres)", f"saturation {c} python", "postgres sat"),
                 ("gateway (postgres)", f"realistic: open {REALISTIC_RATE:g}/s",
                  "postgres real")]
    lines = [report.LOAD_HEADER]
    lines += [report.load_row(label, what, points[key]) for label, what, key in rows]
    if pg_missing is not None:
        lines.append(f"postgres: not available ({pg_missing})")
    if not wrk.path():
        lines.append("wrk: not installed (scripts/bench installs it with apt-get): the Python "
                     "load generator only")
    if args.rounds > 1:
        lines.append("rounds (best shown; req/s at CPU ms/req): " + "; ".join(
            f"{server} {gen} {', '.join(f'{p.rps:.0f} at {p.cpu_ms_per_req:.2f}' for p in runs)}"
            for (server, gen), runs in sat.items()) + "; " + "; ".join(
            f"{server} at {REALISTIC_RATE:g}/s p50/p99 "
            f"{', '.join(f'{report.ms(p.p50)}/{report.ms(p.p99)}' for p in runs)} ms"
            for server, runs in real.items()))
    busy = [f"{label} {what}" for label, what, key in rows if points[key].other_cores > NOISY]
    if busy:
        lines.append(f"NOTE: other processes on the machine used more than {NOISY} cores during:"
                     f" {'; '.join(busy)}; those figures are lower than a quiet machine gives")
    ratios = {}
    for gen in generators:
        base, gw = points[f"baseline sat {gen}"], points[f"gateway-sqlite sat {gen}"]
        cpu = (points[f"gateway-sqlite cpu {gen}"].cpu_ms_per_req /
               points[f"baseline cpu {gen}"].cpu_ms_per_req)
        ratios[gen] = (gw.rps / base.rps, cpu)
        lines.append(
            f"gateway/baseline with the {gen} generator: throughput {gw.rps / base.rps:.2f}x; "
            f"CPU per disclosure {cpu:.2f}x "
            f"({points[f'gateway-sqlite cpu {gen}'].cpu_ms_per_req:.2f} vs "
            f"{points[f'baseline cpu {gen}'].cpu_ms_per_req:.2f} ms, the lowest of each)")
    b50, g50 = _p(points["baseline real p50"].p50), _p(points["gateway-sqlite real p50"].p50)
    b99, g99 = _p(points["baseline real"].p99), _p(points["gateway-sqlite real"].p99)
    lines.append(f"at {REALISTIC_RATE:g} hooks/s: p50 {b50:.1f} -> {g50:.1f} ms (added "
                 f"{g50 - b50:+.1f}), p99 {b99:.1f} -> {g99:.1f} ms (added {g99 - b99:+.1f})")
    lines.append("(CPU ms/req: utime+stime of the server process over the measured window / "
                 "requests answered; likewise for the sandbox and the load generator (client); "
                 "others: cores busy with every other process on the machine meanwhile; peak "
                 "RSS: the server's VmHWM at the end of the point)")
    lines.append("")
    return LoadResult(points, ratios, (g50 - b50, g99 - b99), lines)


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
    if args.verify_workers > 1:
        # Entries/s per core: the same records verified by one process alone.
        alone = []
        for g in generated:
            _say(f"gateway log verify on {g.entries:,} entries, one worker")
            alone.append(record_scale.verify(g, workers=1))
        lines += report.verify_rows(alone)[1:1 + len(alone)]
        per_core = report.marginal_rate(alone)
        lines.append(f"per core (--workers 1): marginal {per_core:,.0f} entries/s; with "
                     f"{args.verify_workers} workers {report.marginal_rate(runs):,.0f} entries/s "
                     f"({report.marginal_rate(runs) / per_core:.2f}x)")
    lines.append("")
    _say("review searches")
    how, found = record_scale.searches(generated[-1])
    lines.append(f"review search on {generated[-1].entries:,} entries (200 random keys each; "
                 f"{how})")
    lines += report.search_rows(found)
    lines.append("")
    return generated, runs, found, lines


def _review(args: argparse.Namespace, largest: record_scale.Generated,
            ) -> tuple[review_targets.RecordAlone, review_targets.Review, list[str]]:
    """Section 2b: the record alone, and review at scale on the largest record."""
    _say(f"the record alone for {args.record_seconds:g} s")
    alone = review_targets.record_alone(args.record_seconds)
    _say(f"  {alone.disclosures_per_s:,.0f} durable disclosures/s")
    _say(f"review at scale on {largest.entries:,} entries")
    seen = review_targets.review(largest, searches=args.searches)
    _say(f"  cold proof {seen.cold_total_ms:.1f} ms, a year's counts {seen.year_counts_ms:.1f} ms")
    return alone, seen, [*review_targets.lines(alone, seen), ""]


def _targets(loaded: LoadResult, verify_rate: float, flood_ratio: float | None,
             alone: review_targets.RecordAlone | None,
             seen: review_targets.Review | None) -> list[report.Target]:
    """Issue 20's targets in its order (1 to 6), then the memory limit."""
    rss = max(p.peak_rss_mb for k, p in loaded.points.items() if k.startswith("gateway"))
    out = []
    for gen, (ratio, cpu) in loaded.ratios.items():
        out += [
            report.Target(f"throughput >= 0.8x baseline ({gen})", ratio, TARGET_RATIO,
                          higher_is_better=True, unit="x", shown=f"{ratio:.2f}x"),
            report.Target(f"CPU/disclosure <= 1.25x baseline ({gen})", cpu, TARGET_CPU_RATIO,
                          higher_is_better=False, unit="x", shown=f"{cpu:.2f}x"),
        ]
    added50, added99 = loaded.added
    rate = f"{REALISTIC_RATE:g}/s"
    out += [
        report.Target(f"added p50 <= 2 ms at {rate}", added50, TARGET_ADDED_P50_MS,
                      higher_is_better=False, unit="ms", shown=f"{added50:+.1f} ms"),
        report.Target(f"added p99 <= 5 ms at {rate}", added99, TARGET_ADDED_P99_MS,
                      higher_is_better=False, unit="ms", shown=f"{added99:+.1f} ms"),
    ]
    if alone is not None:
        rate_alone = alone.disclosures_per_s
        out.append(report.Target("record alone >= 10,000 durable disclosures/s", rate_alone,
                                 TARGET_DISCLOSURES, higher_is_better=True, unit="/s",
                                 shown=f"{rate_alone:,.0f}/s"))
    if not math.isnan(verify_rate):
        out.append(report.Target("verify >= 500,000 entries/s (marginal)", verify_rate,
                                 TARGET_VERIFY, higher_is_better=True, unit="/s",
                                 shown=f"{verify_rate:,.0f}/s"))
    if seen is not None:
        at = f"on {seen.entries:,}"
        customer, order = seen.customer_ms[1], seen.order_ms[1]
        cold, counts = seen.cold_total_ms, seen.year_counts_ms
        out += [
            report.Target(f"customer search p99 < 5 ms {at}", customer, TARGET_SEARCH_P99_MS,
                          higher_is_better=False, unit="ms", shown=f"{customer:.2f} ms"),
            report.Target(f"order search p99 < 5 ms {at}", order, TARGET_SEARCH_P99_MS,
                          higher_is_better=False, unit="ms", shown=f"{order:.2f} ms"),
            report.Target(f"cold open + first proof < 50 ms {at}", cold, TARGET_COLD_PROOF_MS,
                          higher_is_better=False, unit="ms", shown=f"{cold:.1f} ms"),
            report.Target(f"a year's counts < 1 s {at}", counts, TARGET_YEAR_COUNTS_MS,
                          higher_is_better=False, unit="ms", shown=f"{counts:.1f} ms"),
        ]
    if flood_ratio is not None:
        out.append(report.Target("hook p99 in a login flood <= 2x unloaded", flood_ratio,
                                 login_flood.TARGET_RATIO, higher_is_better=False, unit="x",
                                 shown=f"{flood_ratio:.2f}x"))
    out.append(report.Target("RSS <= 150 MB under load", rss, TARGET_RSS_MB,
                             higher_is_better=False, unit="MB", shown=f"{rss:.1f} MB"))
    return out


def _profiles(missed: list[report.Target], settings: Settings, directory: Path,
              largest: record_scale.Generated | None) -> list[str]:
    """Section 3b: py-spy profiles of what misses its target."""
    spy = load.py_spy()
    if spy is None:
        return ["", "profiles: py-spy is not installed (pip install -e '.[bench]')"]
    lines = [""]
    if any(t.name.startswith(LOAD_TARGETS) for t in missed):
        p = _point("gateway-sqlite", None, settings, profile=directory / "gateway.pyspy")
        if p.profile is not None:
            lines += profile.render(profile.read(p.profile), "py-spy: gateway at saturation "
                                    f"({p.rps:.0f} req/s while sampled at 200 Hz)")
            lines.append("")
    if largest is not None and any(t.name.startswith("verify") for t in missed):
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
    flood_ratio = None
    if args.login_flood:
        flood = login_flood.parser().parse_args(
            ["--rounds", str(args.rounds), "--duration", str(args.duration)])
        flood_lines, flood_ratio = login_flood.measure(flood)
        out += [*flood_lines, ""]
        results["login_flood_p99_ratio"] = flood_ratio
    with tempfile.TemporaryDirectory(prefix="bench-record-") as tmp:
        verify_rate = float("nan")
        generated: list[record_scale.Generated] = []
        alone, seen = None, None
        if args.record:
            generated, runs, found, lines = _record(args, Path(tmp))
            out += lines
            results["verify"] = [attrs.asdict(r) for r in runs]
            results["search"] = [attrs.asdict(s) for s in found]
            verify_rate = report.marginal_rate(runs)
            alone, seen, lines = _review(args, generated[-1])
            out += lines
            results["record_alone"] = attrs.asdict(alone)
            results["review"] = attrs.asdict(seen)
        targets = _targets(loaded, verify_rate, flood_ratio, alone, seen)
        out.append("targets")
        out += report.target_rows(targets)
        results["targets"] = [{"name": t.name, "measured": t.measured, "goal": t.goal,
                               "met": t.met} for t in targets]
        missed = [t for t in targets if not t.met]
        if missed and args.profile:
            out += _profiles(missed, settings, Path(tmp), generated[-1] if generated else None)
    if args.instances:
        from bench import instances  # noqa: PLC0415

        _say(f"PostgreSQL instances: {args.instances}")
        scaled = [instances.run_instances(n, concurrency=settings.concurrency,
                                          warmup=settings.warmup, duration=settings.duration)
                  for n in args.instances]
        out += ["", "several instances on one PostgreSQL record (gateway serve --workers N)",
                *instances.lines(scaled)]
        results["instances"] = scaled
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
    p.add_argument("--record-seconds", type=float, default=5.0,
                   help="seconds the record alone is measured for (bench/record_throughput.py)")
    p.add_argument("--searches", type=int, default=2000,
                   help="random customer and order searches timed for their p99")
    p.add_argument("--untrimmed-sandbox", action="store_true",
                   help="serve the sandbox exactly as shipped (its cost grows with its bookings)")
    p.add_argument("--no-profile", dest="profile", action="store_false",
                   help="skip the py-spy profiles of missed targets")
    p.add_argument("--instances", type=int, nargs="*", default=[],
                   help="also measure durable disclosures/s for N gateway instances on one "
                        "PostgreSQL record (e.g. --instances 1 2 4)")
    p.add_argument("--no-login-flood", dest="login_flood", action="store_false",
                   help="skip order hook latency with and without 100 concurrent wrong "
                        "logins (bench/login_flood.py)")
    p.add_argument("--load-only", dest="record", action="store_false",
                   help="the load points and the login flood only (no generated records)")
    p.add_argument("--quick", action="store_true",
                   help="a short smoke run: 1 s warm-up, 3 s points, records of 10k and 50k, "
                        "the record alone for 2 s, 500 searches each")
    args = p.parse_args(argv)
    if args.quick:
        args.warmup, args.duration, args.records, args.rounds = 1.0, 3.0, [10_000, 50_000], 1
        args.record_seconds, args.searches = 2.0, 500
    if sorted(args.records) != args.records or args.records[0] < 1000:
        p.error("--records must be ascending sizes of at least 1000")
    if not 1 <= args.rounds <= 5:
        p.error("--rounds must be 1 to 5")
    args.records = [r - r % 1000 for r in args.records]
    return run(args)
