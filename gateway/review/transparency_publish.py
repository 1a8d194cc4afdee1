"""The published view of the transparency report: what the shop may put on its web site.

A count below ``[reports] publish_threshold`` (N) reads "fewer than N" (JSON
``{"fewer_than": N}``), and no figure published beside it lets it be worked out again:

- The outcomes add up to the requests received. When the received total minus the outcomes
  shown would give a hidden outcome exactly (one hidden outcome, or hidden outcomes that can
  only all be N - 1), the smallest outcome shown is withheld as well (JSON
  ``{"withheld": true}``), so the remainder is shared by counts no one can tell apart.
- The share of answered requests with data produced is given only when every count it is
  computed from (received, full, partial, open) is given exactly, so it says nothing the
  counts do not; the median days to answer only when N or more requests were answered.
- A breakdown (by authority, authority type, legal basis and kind) gives the requests received
  per row; rows with fewer than N are folded into one "others" row, and while that row would
  itself be below N (and so readable as the total minus the rows shown) the smallest rows
  shown are folded into it too. Outcomes and customers per row are not published: with the
  totals beside them, row and column sums would single out hidden counts.
- The emergency and preservation counts match the by-kind rows: a kind folded into "others"
  is guarded against "others" minus the other kinds, as the outcomes are.
- Customers specified, produced and notified, and carrier deliveries, are published on their
  own, with nothing that sums to them.

A count worked out to be zero is not protected: none points at no investigation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from gateway.review.transparency_report import OUTCOMES

PUBLISHED_NOTE: Final = (
    "Requests are those received in the period, by when they were received. Outcomes: full "
    "(all that was asked and held was produced), partial, none (nothing held of the customers "
    "named), rejected, objected, or still open. Customers specified counts the customers and "
    "orders a request named; customers produced, those whose data was handed over. The share "
    "of requests with data produced and the median days to answer are of requests answered. "
    "Counts below {n} read 'fewer than {n}'; a figure that would let one of them be worked out "
    "is withheld or left out, and an authority, type, legal basis or kind with fewer than {n} "
    "requests is counted under 'others', so that no single investigation can be singled out. "
    "Carrier disclosures are deliveries booked with carriers.")
WITHHELD: Final = {"withheld": True}
#: Figures published on their own (nothing published sums to them).
_ALONE: Final = ("customers_specified", "customers_produced", "customers_notified")
_KINDS: Final = ("emergency", "preservation")


def publish(doc: Mapping[str, Any], threshold: int) -> dict[str, Any]:
    """The published view of an internal report (see the module's docstring)."""
    figures = doc["requests"]
    by = {k: _rows(doc[k], threshold) for k in ("by_authority", "by_authority_type",
                                                  "by_legal_basis", "by_kind")}
    requests: dict[str, Any] = {"received": _band(figures["received"], threshold)}
    if figures["received"] >= threshold:
        requests.update(guarded(figures["received"], {o: figures[o] for o in OUTCOMES},
                                threshold))
    else:
        requests.update({o: _band(figures[o], threshold) for o in OUTCOMES})
    requests.update({m: _band(figures[m], threshold) for m in _ALONE})
    requests.update(_kinds(doc["by_kind"], threshold))
    exact = all(isinstance(requests[m], int) for m in ("received", "full", "partial", "open"))
    enough = figures["answered"] >= threshold
    requests["produced_share"] = figures["produced_share"] if enough and exact else None
    requests["median_days_to_answer"] = figures["median_days_to_answer"] if enough else None
    return {
        "view": "published", "period": doc["period"], "produced_at": doc["produced_at"],
        "threshold": threshold, "requests": requests, **by,
        "carrier_disclosures": _band(doc["totals"]["carrier_disclosures"], threshold),
        "statement": doc["statement"], "note": PUBLISHED_NOTE.format(n=threshold),
    }


def _band(n: int, threshold: int) -> int | dict[str, int]:
    return n if n >= threshold else {"fewer_than": threshold}


def guarded(total: int, parts: Mapping[str, int], threshold: int) -> dict[str, Any]:
    """The parts of a total published exactly, each banded, with one more withheld when the
    total minus the parts shown would give a hidden part exactly."""
    out: dict[str, Any] = {k: _band(v, threshold) for k, v in parts.items()}
    if _pinned(total, out, threshold):
        shown = [k for k, v in out.items() if isinstance(v, int)]
        out[min(shown, key=lambda k: parts[k]) if shown
            else max(parts, key=lambda k: parts[k])] = WITHHELD
    return out


def _pinned(total: int, out: Mapping[str, Any], threshold: int) -> bool:
    """Whether some part read "fewer than" can only be one count above zero, given the total,
    the parts shown and the bounds of the others."""
    rest = total - sum(v for v in out.values() if isinstance(v, int))
    bounds = [(0, threshold - 1) if "fewer_than" in v else (0, total)
              for v in out.values() if isinstance(v, Mapping)]
    for i, (low, high) in enumerate(bounds):
        if low != 0 or high != threshold - 1:
            continue
        others = bounds[:i] + bounds[i + 1:]
        least = max(0, rest - sum(h for _, h in others))
        most = min(threshold - 1, rest - sum(lo for lo, _ in others))
        if least == most and least > 0:
            return True
    return False


def _rows(items: Sequence[Mapping[str, Any]], threshold: int) -> list[dict[str, Any]]:
    """A breakdown's rows: the requests received per name, small rows folded into "others"."""
    kept = sorted((r for r in items if r["received"] >= threshold),
                  key=lambda r: (r["received"], r["name"]))
    folded = [r for r in items if r["received"] < threshold]
    label = f"others (each fewer than {threshold} requests)"
    while folded and kept and sum(r["received"] for r in folded) < threshold:
        folded.append(kept.pop(0))
        label = "others"
    out: list[dict[str, Any]] = [{"name": r["name"], "received": r["received"]}
                                 for r in sorted(kept, key=lambda r: r["name"])]
    if folded:
        out.append({"name": label,
                    "received": _band(sum(r["received"] for r in folded), threshold)})
    return out


def _kinds(by_kind: Sequence[Mapping[str, Any]], threshold: int) -> dict[str, Any]:
    """The emergency and preservation counts, agreeing with the published by-kind rows."""
    counts = {r["name"]: r["received"] for r in by_kind}
    own = {r["name"] for r in _rows(by_kind, threshold)}
    folded = {k: n for k, n in counts.items() if k not in own}
    total = sum(folded.values())
    out = {k: counts.get(k, 0) if k in own else _band(counts.get(k, 0), threshold)
           for k in _KINDS}
    if total >= threshold and set(folded) <= set(_KINDS):
        out.update(guarded(total, folded, threshold))
    return out
