"""Decide whether a timing derived as a difference of two measurements is resolved; name it when not.

Several calibration figures are differences: the in-step host cost of a small op is its time inside
a streaming chain less its hot time (hwsim.calibrate.host_cold), the eager framework overhead per op
is a module chain's time per op less the launch row's (hwsim.calibrate.eager), and every efficiency
point is an op's time less the launch overhead (hwsim.calibrate.fit). Where the two are close, the
difference is the noise of the host: on an AMD EPYC host `hwsim calibrate --quick` measured the hot
host_cold chain at "min -172 us", and a fit of it is a fit of noise. Such a difference is
*unresolved*: its row is recorded as `unresolved` with its spread (never as a negative time or
rate), it is never fitted, and the fit lists it by name (the calibration file's comments, a line of
`hwsim calibrate`).

The rule: a difference a - b is resolved when the difference of the medians exceeds the sum of the
two measurements' spreads, the spread of one being its median less its min over its repetitions:

    resolved  <=>  median(a) - median(b) > (median(a) - min(a)) + (median(b) - min(b))

Why this spread and not an interquartile range: the rows keep the min and the median of their
repetitions, nothing more (hwsim.calibrate.results.MICRO), so the same rule applies where a row is
measured, where it is fitted, and to rows measured before the rule existed; and min-to-median is
how far a row's typical repetition sits above its luckiest one, i.e. how far the host's noise moves
that measurement. If the difference is smaller than that, moving each measurement within its own
spread could make it zero or negative, so its sign is not known. Resolved differences are positive
in either statistic (the rule implies min(a) > median(b) >= min(b)).

A difference measured in pairs (host_cold: each repetition times the op in the step and right
after it, hot) is one measurement whose repetitions are differences already, so b is absent and the
rule reads median(d) > median(d) - min(d), i.e. min(d) > 0: every repetition shows the op slower in
the step than hot. With no true difference each repetition's sign is a coin toss, and all ten
(MIN_REPS) positive has a chance of 2^-10; pairing cancels the host's slow spells, which shift both
calls of a pair alike and would otherwise dominate a spread of the two times taken apart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hwsim.units import format_quantity

__all__ = ["UNRESOLVED", "Difference", "difference", "measured_note", "row_name", "spread"]

UNRESOLVED = "unresolved"  # the status of a row whose difference is unresolved (hwsim.calibrate.results)


def spread(min_s: float, median_s: float) -> float:
    """How far the host's noise moves one measurement: its median less its min over repetitions (>= 0)."""
    return max(0.0, median_s - min_s)


@dataclass(frozen=True, slots=True, kw_only=True)
class Difference:
    """A difference of medians, the spread it must exceed, and whether it does."""

    median_s: float  # median(a) - median(b), or a paired difference's median
    spread_s: float  # the sum of the spreads of the measurements involved (>= 0)

    @property
    def resolved(self) -> bool:
        return math.isfinite(self.median_s) and math.isfinite(self.spread_s) and self.median_s > self.spread_s

    def why(self, what: str) -> str:
        """Why it is unresolved, in positive figures only: "`what` at or below zero ..." or "... within"."""
        sp = format_quantity(self.spread_s, "time")
        if not (math.isfinite(self.median_s) and self.median_s > 0):
            return f"{what} at or below zero (spread {sp})"
        return f"{what} {format_quantity(self.median_s, 'time')} within its spread {sp}"


def difference(a: Mapping[str, Any], b: Mapping[str, Any] | None = None) -> Difference:
    """The difference of rows a - b (min_s and median_s over repetitions); b None: a is a paired
    difference already (its repetitions are differences)."""
    value = a["median_s"] - (b["median_s"] if b is not None else 0.0)
    total = spread(a["min_s"], a["median_s"]) + (spread(b["min_s"], b["median_s"]) if b is not None else 0.0)
    return Difference(median_s=value, spread_s=total)


def measured_note(d: Difference, in_step_s: float, hot_s: float, reps: int) -> str:
    """The note an unresolved paired row keeps in its `error` column: both times and the spread."""
    return (
        f"unresolved: in-step {format_quantity(in_step_s, 'time')} less hot "
        f"{format_quantity(hot_s, 'time')} per op is not above its spread "
        f"{format_quantity(d.spread_s, 'time')} over {reps} repetitions (hwsim.calibrate.unresolved)"
    )


def row_name(row: Mapping[str, Any]) -> str:
    """A row as the fit names it: "host_cold fp32 32x4x0"."""
    return f"{row['kind']} {row['dtype']} {row['shape']}"
