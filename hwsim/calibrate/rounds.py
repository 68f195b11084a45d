"""One measurement from several rounds of the same workload, taken minutes apart on a shared host.

Why rounds: on the project's shared 2-core VM the speed of Python and of memory-bound kernels swings
by up to 2x for seconds at a time (a module-chain step measured 10.8 and 19.5 us per op a few
seconds apart), longer than one measurement's repetitions last. The calibration keeps each
microbenchmark's fastest of three passes (hwsim.calibrate.microbench.run_sweep), so a validation
measured in a single slow spell would compare a slow step against a fast-host calibration. Each
round is a complete measurement (stored under its own label, resumable; `reps` stays the
repetitions per round); they are merged as:

- step, per op, sum of ops, timer floor, drift benchmarks: min = the min over rounds' mins; median =
  the min over the rounds' medians: the typical time in the round least slowed by the host, as
  the calibration keeps, per microbenchmark, the pass with the least median (hwsim.calibrate.fit);
- an op failed in any round stays failed (with that round's error): a failure is not noise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from hwsim.calibrate.measure import ROUND_MARK, MeasuredOp, Measurement

__all__ = ["merge_rounds", "round_label"]


def round_label(label: str, index: int) -> str:
    """The label round `index` (0-based) is stored under: the first keeps the workload's own label."""
    return label if index == 0 else f"{label}{ROUND_MARK}{index + 1}"


def _min(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return min(finite) if finite else math.nan


def _merge_op(ops: Sequence[MeasuredOp]) -> MeasuredOp:
    failed = next((op for op in ops if op.status != "ok"), None)
    if failed is not None:
        return failed
    return replace(ops[0], min_s=_min([op.min_s for op in ops]), median_s=_min([op.median_s for op in ops]))


def merge_rounds(rounds: Sequence[Measurement]) -> Measurement:
    """The rounds of one workload as one Measurement under the first round's label (see the module doc)."""
    first = rounds[0]
    if len(rounds) == 1:
        return first
    counts = {len(m.ops) for m in rounds}
    if len(counts) != 1:
        raise ValueError(f"rounds of {first.label} ran different op counts: {sorted(counts)}")
    ok = [m for m in rounds if m.step_status == "ok"]
    benches = {k: _min([m.benches.get(k, math.nan) for m in rounds]) for k in first.benches}
    return replace(
        first,
        step_min_s=_min([m.step_min_s for m in ok]) if ok else math.nan,
        step_median_s=_min([m.step_median_s for m in ok]) if ok else math.nan,
        step_status="ok" if len(ok) == len(rounds) else "failed",
        step_error=next((m.step_error for m in rounds if m.step_status != "ok"), ""),
        ops=tuple(_merge_op(ops) for ops in zip(*(m.ops for m in rounds), strict=True)),
        ops_sum_min_s=_min([m.ops_sum_min_s for m in rounds]),
        ops_sum_median_s=_min([m.ops_sum_median_s for m in rounds]),
        floor_min_s=_min([m.floor_min_s for m in rounds]),
        floor_median_s=_min([m.floor_median_s for m in rounds]),
        benches=benches,
    )
