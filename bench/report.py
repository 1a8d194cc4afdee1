"""The printed tables and the targets, each with how far the figure is from it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from bench.load import Point
    from bench.record_scale import Search, VerifyRun


def ms(value: float | None) -> str:
    return ">10 s" if value is None else f"{value:.1f}"


LOAD_HEADER = (f"{'server':<18} {'load':<24} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} "
               f"{'p99.9 ms':>9} {'CPU ms/req':>10} {'peak RSS MB':>11} "
               f"{'sandbox ms/req':>14} {'client ms/req':>13} {'others':>6}  errors")


def load_row(label: str, load: str, p: Point) -> str:
    errors = {k: v for k, v in p.statuses.items() if k != "201"}
    return (f"{label:<18} {load:<24} {p.rps:>7.0f} {ms(p.p50):>8} {ms(p.p99):>8} "
            f"{ms(p.p999):>9} {p.cpu_ms_per_req:>10.2f} {p.peak_rss_mb:>11.1f} "
            f"{p.sandbox_cpu_ms_per_req:>14.2f} {p.loadgen_cpu_ms_per_req:>13.2f} "
            f"{p.other_cores:>6.2f}  "
            f"{', '.join(f'{k}: {v}' for k, v in errors.items()) or '-'}")


def verify_rows(runs: list[VerifyRun]) -> list[str]:
    lines = [(f"{'entries':>10} {'workers':>7} {'seconds':>8} {'entries/s':>10} {'CPU s':>7} "
             f"{'entries/CPU-s':>13} {'peak RSS MB':>11}")]
    # With workers, verify's CPU is mostly its workers', which run under a forkserver that
    # nobody reaps: the CPU columns are shown for single-process runs only.
    lines += [f"{r.entries:>10,} {r.workers:>7} {r.seconds:>8.2f} {r.rate:>10,.0f} "
              + (f"{r.cpu_seconds:>7.2f} {r.entries / max(r.cpu_seconds, 1e-9):>13,.0f} "
                 if r.workers == 1 else f"{'-':>7} {'-':>13} ")
              + f"{r.peak_rss_mb:>11.1f}" for r in runs]
    if len(runs) >= 2:
        a, b = runs[0], runs[-1]
        marginal = marginal_rate(runs)
        lines.append(f"marginal rate {a.entries:,} -> {b.entries:,}: {marginal:,.0f} entries/s "
                     "(interpreter start-up and fixed costs left out); peak memory "
                     f"{a.peak_rss_mb:.1f} -> {b.peak_rss_mb:.1f} MB "
                     f"({b.peak_rss_mb - a.peak_rss_mb:+.1f} MB for {b.entries / a.entries:.0f}x "
                     "the entries)")
    return lines


def marginal_rate(runs: list[VerifyRun]) -> float:
    """Entries/s between the smallest and the largest record: start-up and fixed costs left
    out (the rate of the one run when there is one)."""
    a, b = runs[0], runs[-1]
    if b.entries <= a.entries or b.seconds <= a.seconds:
        return b.rate
    return (b.entries - a.entries) / (b.seconds - a.seconds)


def search_rows(found: list[Search]) -> list[str]:
    lines = [f"{'search':<22} {'p50 ms':>7} {'p99 ms':>7} {'rows':>6}  how"]
    lines += [f"{s.name:<22} {s.p50_ms:>7.3f} {s.p99_ms:>7.3f} {s.rows:>6.1f}  {s.how}"
              for s in found]
    return lines


@attrs.frozen
class Target:
    name: str
    measured: float
    goal: float
    higher_is_better: bool = attrs.field(kw_only=True)
    unit: str = attrs.field(kw_only=True)
    shown: str = attrs.field(kw_only=True)

    @property
    def met(self) -> bool:
        return self.measured >= self.goal if self.higher_is_better else self.measured <= self.goal

    def distance(self) -> str:
        m, g = self.measured, self.goal
        if self.higher_is_better:
            if self.met:
                return f"met, {(m / g - 1) * 100:.0f}% above"
            return f"MISSED: {(1 - m / g) * 100:.0f}% short ({g / m:.1f}x to go)" if m > 0 else (
                "MISSED")
        gap = f"{abs(g - m):.2f}x" if self.unit == "x" else f"{abs(g - m):.1f} {self.unit}"
        if self.met:
            return f"met, {gap} to spare"
        return f"MISSED: {gap} over ({m / g:.1f}x the limit)" if g > 0 else f"MISSED: {gap} over"


def target_rows(targets: list[Target]) -> list[str]:
    lines = [f"{'target':<44} {'measured':>14}  verdict"]
    lines += [f"{t.name:<44} {t.shown:>14}  {t.distance()}" for t in targets]
    return lines
