"""Validate an estimate against the real model: match measured ops to graph ops, and state the errors.

Definitions (printed with every report, `DEFINITIONS`):

- measured: the statistic over the repetitions that the calibration's times were (its `statistic`:
  median for `hwsim calibrate`'s files, the typical time; min for hand-written ones), per op (timed
  inside a dispatch mode) and for the whole step (timed with nothing attached); with rounds, the
  least over rounds (hwsim.calibrate.rounds). Estimate and measurement describe the same thing:
  a typical step against typical ops, or a best step against best-case rates.
- estimated: per op, `Estimate.op_time_s` (kernel plus the wait for its launch); end to end,
  `Estimate.step_time_s`, which also holds the eager framework time between ops
  (`Estimate.framework_s`, compared with the measured time outside ops).
- error = (estimated - measured) / measured: negative when the estimate is too fast.
- per-class error = (sum of estimated - sum of measured) / sum of measured over the class's matched
  ops (the bias, time-weighted); per-class MAPE = mean |error| over the class's matched ops.
- noise = median / min - 1 of the same measurement (per class: the mean over its ops), printed
  beside each error: an error smaller than the noise says nothing.
- outside ops = measured step - the timed steps' sum of their ops (the same statistic over steps):
  Python, autograd bookkeeping and views, which no single op owns (an estimate of the step must
  cover it; op errors cannot see it).
- timer floor: a one-element add timed as the ops are (what the per-op clock itself reads).
- drift: three of the calibration's own microbenchmarks re-timed with the measurement, min then /
  min at calibration - 1: a shared host's speed moves by tens of percent within minutes.

Matching: a graph op (hwsim.trace on meta, possibly replicated layers) and a measured op (the same
step code on the device) match when their phase, module scope, ATen target and input shapes agree,
in execution order (longest common subsequence, difflib). Where the device runs another kernel for
the same job the target is mapped explicitly (`EQUIVALENT`): the fused attention forward and backward
kernels (flash, memory-efficient, the CPU's flash, cuDNN) are one op, compared on the query shape and
the key/value length and head size (the tracer expands grouped-query K/V heads, the CPU kernel reads
them unexpanded). Nothing else is guessed: ops left over on either side are reported, with their time.
"""

from __future__ import annotations

import difflib
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hwsim.calibrate.device import HostInfo, host_stem
from hwsim.calibrate.host_files import DRIFT_BENCHES, host_drift, resolve_system, settle_host
from hwsim.calibrate.measure import MeasuredOp, Measurement
from hwsim.yamlio import display_path

__all__ = [
    "DEFINITIONS",
    "EQUIVALENT",
    "SCHEMA",
    "ClassFigures",
    "OpComparison",
    "Validation",
    "compare",
    "match_ops",
    "run_validation",
]

SCHEMA = "hwsim.validation/1"
TARGET_MAPE = 0.10  # the targets: per-op MAPE of matmul and attention, end-to-end |error|
DEFINITIONS: dict[str, str] = {
    "measured": "min over the repetitions; per op timed in a dispatch mode, the step with nothing attached",
    "estimated": "per op Estimate.op_time_s (kernel + launch wait); end to end Estimate.step_time_s",
    "error": "(estimate - measured) / measured; negative = estimate too fast",
    "class_error": "(sum estimated - sum measured) / sum measured over the class's matched ops",
    "mape": "mean |error| over the class's matched ops",
    "noise": "median / min - 1 of the same measurement (per class: mean over its ops)",
    "outside_ops": "measured step - min over timed steps of the sum of their ops: Python, autograd, views",
    "timer_floor": "a one-element add timed as the ops are: the least any measured op can read",
    "drift": "calibration microbenchmarks re-timed with the step: min then / at calibration - 1 (+ = slower)",
}
_ATTENTION = (
    "_scaled_dot_product_flash_attention",
    "_scaled_dot_product_efficient_attention",
    "_scaled_dot_product_flash_attention_for_cpu",
    "_scaled_dot_product_cudnn_attention",
)
# ATen targets that are the same op on different devices: target -> canonical name.
EQUIVALENT: dict[str, str] = {
    **{f"aten.{k}.default": "attention forward" for k in _ATTENTION},
    **{f"aten.{k}_backward.default": "attention backward" for k in _ATTENTION},
}


def _signature(target: str, shapes: Sequence[Sequence[int]]) -> tuple:
    """What must agree besides phase and scope: the canonical target and the input shapes."""
    canon = EQUIVALENT.get(target, target)
    if canon in ("attention forward", "attention backward"):
        first = 0 if canon == "attention forward" else 1  # the backward's first input is grad_out
        q, k, v = (tuple(s) for s in shapes[first : first + 3])
        return (canon, q, k[:1] + k[2:], v[-1:])  # batch, key length and head size; not KV heads
    return (canon, tuple(tuple(s) for s in shapes))


def match_ops(graph_ops: Sequence[Any], measured: Sequence[MeasuredOp]) -> list[tuple[int, int]]:
    """Pairs (graph op position, measured op position) in order; everything else is unmatched."""
    a = [(op.phase, op.scope, _signature(op.target, [t.shape for t in op.inputs])) for op in graph_ops]
    b = [(m.phase, m.scope, _signature(m.target, m.shapes)) for m in measured]
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return [(i + n, j + n) for i, j, size in matcher.get_matching_blocks() for n in range(size)]


@dataclass(frozen=True, slots=True, kw_only=True)
class OpComparison:
    """One graph op and the measured op it matched (either may be missing)."""

    graph_index: int | None
    measured_index: int | None
    op_class: str
    target: str  # the graph's target, else the measured one
    measured_target: str
    phase: str
    scope: str
    shapes: tuple[tuple[int, ...], ...]
    estimated_s: float  # nan for an op only the real run has
    measured_s: float  # the reference statistic (Validation.statistic); nan when unmatched or failed
    measured_min_s: float
    measured_median_s: float
    in_range: bool
    status: str  # matched, failed (matched, its measurement failed), graph-only, run-only
    error_text: str = ""

    @property
    def error(self) -> float:
        """nan unless matched with a time above zero (a CUDA op that launches no kernel may read 0)."""
        ok = self.status == "matched" and self.measured_s > 0
        return (self.estimated_s - self.measured_s) / self.measured_s if ok else math.nan

    @property
    def noise(self) -> float:
        ok = self.status == "matched" and self.measured_min_s > 0
        return self.measured_median_s / self.measured_min_s - 1 if ok else math.nan


@dataclass(frozen=True, slots=True, kw_only=True)
class ClassFigures:
    op_class: str
    matched: int
    measured_s: float
    estimated_s: float
    error: float
    mape: float
    noise: float
    failed: int = 0
    graph_only: int = 0
    graph_only_estimated_s: float = 0.0
    run_only: int = 0
    run_only_measured_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {k: _num(getattr(self, k)) for k in self.__slots__ if k != "op_class"}


def _num(x: Any) -> Any:
    return None if isinstance(x, float) and not math.isfinite(x) else x


@dataclass(frozen=True, slots=True, kw_only=True)
class Validation:
    """The measured and estimated step of one workload on one device, op by op and end to end."""

    label: str
    workload: str
    overrides: tuple[str, ...]
    mode: str
    device: str  # "cpu" or "cuda"
    system: str  # the device file the estimate used
    host: HostInfo
    threads: int
    reps: int  # per round
    calibration: dict[str, Any]
    launch_mode: str
    measured_step_s: float  # the reference statistic of the step (`statistic`)
    measured_step_min_s: float
    measured_step_median_s: float
    step_error_text: str
    estimated_step_s: float
    ops: tuple[OpComparison, ...]
    classes: tuple[ClassFigures, ...]
    measured_ops_s: float = math.nan  # the statistic over the timed steps of the sum of their timed ops
    statistic: str = "min"  # of the repetitions, measured and calibrated alike (see the module doc)
    estimated_outside_s: float = 0.0  # the estimate's eager framework time between ops (Estimate.framework_s)
    floor_s: float = math.nan  # the per-op timer's floor: a one-element add timed as the ops are
    measurements: str = ""  # the CSV the measurements are in
    drift: dict[str, float] = field(default_factory=dict)  # host_drift: min time then / at calibration - 1
    validated_at: str = ""  # UTC, ISO 8601
    rounds: int = 1  # measurements of the whole step merged by hwsim.calibrate.rounds

    @property
    def error(self) -> float:
        return (self.estimated_step_s - self.measured_step_s) / self.measured_step_s

    @property
    def noise(self) -> float:
        return self.measured_step_median_s / self.measured_step_min_s - 1

    def of(self, status: str) -> list[OpComparison]:
        return [c for c in self.ops if c.status == status]

    @property
    def outside_ops_s(self) -> float:
        """Measured step - the per-step sum of timed ops, same statistic (Python, autograd, views)."""
        return self.measured_step_s - self.measured_ops_s

    def _sum(self, attr: str, *statuses: str) -> float:
        values = (getattr(c, attr) for c in self.ops if c.status in statuses)
        return sum(x for x in values if math.isfinite(x))

    def attribution(self) -> list[tuple[str, float]]:
        """Where estimated - measured step seconds come from; the parts add up to it exactly.

        Matched ops by class (estimated - measured), graph-only and failed ops (their estimate),
        run-only ops (minus their time), the per-op statistics below the steps' sum of ops (minus the
        gap: each op's min comes from its own best rep, which no step gets for every op at once), and
        the time outside ops (estimated - measured).
        """
        parts = [(f"matched {c.op_class}", c.estimated_s - c.measured_s) for c in self.classes if c.matched]
        gap = self.measured_ops_s - self._sum("measured_s", "matched", "run-only")
        return parts + [
            ("graph-only and failed ops", self._sum("estimated_s", "graph-only", "failed")),
            ("run-only ops", -self._sum("measured_s", "run-only")),
            (f"per-op {self.statistic}s vs the steps' sum of ops", -gap),
            ("outside ops (Python, autograd, views)", self.estimated_outside_s - self.outside_ops_s),
        ]

    def worst(self, n: int = 10) -> list[OpComparison]:
        """Matched ops with the largest |estimated - measured| seconds: what moves the step most."""
        return sorted(self.of("matched"), key=lambda c: -abs(c.estimated_s - c.measured_s))[:n]

    def targets(self) -> dict[str, dict[str, Any]]:
        """The issue's targets, measured: matmul and attention per-op MAPE, end-to-end |error| <= 10%."""
        figures = [
            (f"{c.op_class}_mape", c.mape) for c in self.classes if c.op_class in ("matmul", "attention")
        ]
        figures.append(("end_to_end_error", self.error))
        return {
            name: {"value": _num(x), "limit": TARGET_MAPE, "met": abs(x) <= TARGET_MAPE}
            for name, x in figures
        }

    def to_json(self) -> dict[str, Any]:
        count = Counter(c.status for c in self.ops)
        e2e = {"measured_s": self.measured_step_s, "measured_min_s": self.measured_step_min_s,
               "measured_median_s": self.measured_step_median_s,
               "noise": self.noise, "estimated_s": self.estimated_step_s, "error": self.error,
               "measured_ops_s": self.measured_ops_s, "timer_floor_s": self.floor_s,
               "outside_ops_s": self.outside_ops_s,
               "estimated_outside_ops_s": self.estimated_outside_s}  # fmt: skip
        ops = {"graph": sum(c.graph_index is not None for c in self.ops),
               "measured": sum(c.measured_index is not None for c in self.ops),
               **{k: count.get(k, 0) for k in ("matched", "failed", "graph-only", "run-only")}}  # fmt: skip
        return {
            "schema": SCHEMA, "workload": self.workload, "label": self.label,
            "overrides": list(self.overrides), "mode": self.mode, "device": self.device,
            "system": self.system, "host": self.host.to_json(),
            "threads": self.threads, "reps": self.reps, "rounds": self.rounds, "statistic": self.statistic,
            "calibration": self.calibration,
            "launch_mode": self.launch_mode, "definitions": DEFINITIONS,
            "end_to_end": {k: _num(x) for k, x in e2e.items()} | {"failed": self.step_error_text or None},
            "ops": ops, "classes": {c.op_class: c.to_json() for c in self.classes},
            "attribution_s": {name: _num(seconds) for name, seconds in self.attribution()},
            "targets": self.targets(), "worst_ops": [_op_json(c) for c in self.worst()],
            "unmatched": [_op_json(c) for c in self.ops if c.status in ("graph-only", "run-only", "failed")],
            "measurements": self.measurements, "drift": self.drift, "validated_at": self.validated_at,
        }  # fmt: skip


def _op_json(c: OpComparison) -> dict[str, Any]:
    return {
        "graph_index": c.graph_index, "measured_index": c.measured_index, "status": c.status,
        "op_class": c.op_class, "target": c.target, "measured_target": c.measured_target, "phase": c.phase,
        "scope": c.scope, "shapes": [list(s) for s in c.shapes], "estimated_s": _num(c.estimated_s),
        "measured_s": _num(c.measured_s), "measured_min_s": _num(c.measured_min_s),
        "measured_median_s": _num(c.measured_median_s), "error": _num(c.error), "noise": _num(c.noise),
        "in_range": c.in_range, "error_text": c.error_text or None,
    }  # fmt: skip


def _mean(values: Any) -> float:
    finite = [x for x in values if math.isfinite(x)]
    return statistics.fmean(finite) if finite else math.nan


def _classes(ops: Sequence[OpComparison]) -> tuple[ClassFigures, ...]:
    by: dict[str, list[OpComparison]] = defaultdict(list)
    for c in ops:
        by[c.op_class].append(c)
    out = []
    for op_class, items in sorted(by.items()):
        ok = [c for c in items if c.status == "matched"]
        measured = sum(c.measured_s for c in ok)
        estimated = sum(c.estimated_s for c in ok)
        graph_only = [c for c in items if c.status == "graph-only"]
        run_only = [c for c in items if c.status == "run-only" and math.isfinite(c.measured_s)]
        out.append(
            ClassFigures(
                op_class=op_class, matched=len(ok), measured_s=measured, estimated_s=estimated,
                error=(estimated - measured) / measured if measured > 0 else math.nan,
                mape=_mean(abs(c.error) for c in ok), noise=_mean(c.noise for c in ok),
                failed=sum(c.status == "failed" for c in items), graph_only=len(graph_only),
                graph_only_estimated_s=sum(c.estimated_s for c in graph_only), run_only=len(run_only),
                run_only_measured_s=sum(c.measured_s for c in run_only),
            )
        )  # fmt: skip
    return tuple(out)


def compare(
    est: Any, measurement: Measurement, *, workload: str = "", overrides: Sequence[str] = ()
) -> Validation:
    """Compare an hwsim.estimate.Estimate of a workload with the Measurement of the same workload."""
    graph_ops = est.graph.ops
    measured = measurement.ops
    statistic = est.calibration.statistic
    ref = (lambda m: m.median_s) if statistic == "median" else (lambda m: m.min_s)  # noqa: E731
    pairs = match_ops(graph_ops, measured)
    by_graph = dict(pairs)
    matched_measured = {j for _, j in pairs}
    ops: list[OpComparison] = []
    nan = math.nan
    for i, op in enumerate(graph_ops):
        j = by_graph.get(i)
        m = measured[j] if j is not None else None
        failed = m is not None and m.status != "ok"
        ok = m is not None and not failed
        ops.append(
            OpComparison(
                graph_index=i, measured_index=None if m is None else m.index, op_class=op.op_class,
                target=op.target, measured_target=m.target if m else "", phase=op.phase, scope=op.scope,
                shapes=tuple(tuple(t.shape) for t in op.inputs), estimated_s=est.op_time_s(i),
                measured_s=ref(m) if ok else nan, measured_min_s=m.min_s if ok else nan,
                measured_median_s=m.median_s if ok else nan, in_range=est.op_costs[i].in_range,
                status="graph-only" if m is None else ("failed" if failed else "matched"),
                error_text=m.error if m else "",
            )
        )  # fmt: skip
    for j, m in enumerate(measured):
        if j not in matched_measured:
            ok = m.status == "ok"
            ops.append(
                OpComparison(
                    graph_index=None, measured_index=m.index, op_class=m.op_class, target=m.target,
                    measured_target=m.target, phase=m.phase, scope=m.scope, shapes=m.shapes, estimated_s=nan,
                    measured_s=ref(m) if ok else nan, measured_min_s=m.min_s if ok else nan,
                    measured_median_s=m.median_s if ok else nan,
                    in_range=True, status="run-only", error_text=m.error,
                )
            )  # fmt: skip
    n_out, share_out = est.out_of_range
    cal = est.calibration
    calibration = {
        "name": cal.name, "path": display_path(Path(cal.path)), "fitted": cal.fitted, "threads": cal.threads,
        "launch_overhead_s": cal.launch_overhead, "eager_overhead_s": est.eager_overhead_s,
        "unfused_ops": sorted(cal.unfused_ops), "residency": est.costs.residency_json(),
        "host_cold": est.costs.host_cold_json(),
        "fitted_on": dict(cal.meta), "ops_outside_range": n_out, "time_share_outside_range": share_out,
    }  # fmt: skip
    return Validation(
        label=measurement.label, workload=workload or est.workload, overrides=tuple(overrides), mode=est.mode,
        device=measurement.device, system=est.system, host=measurement.host, threads=measurement.host.threads,
        reps=measurement.reps, calibration=calibration, launch_mode=est.launch_mode,
        measured_step_s=(measurement.step_median_s if statistic == "median" else measurement.step_min_s)
        if measurement.step_status == "ok" else nan,
        measured_step_min_s=measurement.step_min_s if measurement.step_status == "ok" else nan,
        measured_step_median_s=measurement.step_median_s if measurement.step_status == "ok" else nan,
        step_error_text=measurement.step_error, estimated_step_s=est.step_time_s, ops=tuple(ops),
        classes=_classes(ops), floor_s=measurement.floor_min_s, statistic=statistic,
        measured_ops_s=measurement.ops_sum_median_s if statistic == "median" else measurement.ops_sum_min_s,
        estimated_outside_s=est.framework_s,
        measurements=measurement.csv_path,
    )  # fmt: skip


def run_validation(
    ref: str | Path,
    *,
    overrides: Sequence[str] = (),
    device: str = "cpu",
    system: str | None = None,
    calibration: str | None = None,
    threads: int = 1,
    reps: int = 10,
    warmup: int = 2,
    folder: Path = Path("reports/validation"),
    hook: Any = None,
    progress: Any = None,
    fresh: bool = False,
    rounds: int = 1,
    settle_s: float = 0.0,
) -> Validation:
    """Estimate and measure one workload on this host's `device`, and compare (see the module doc).

    Everything that can be wrong with the inputs (no CUDA, no calibration, a stale one) fails before
    anything is measured. Measurements go to folder/measurements/<host stem>/ and resume there.
    `settle_s` > 0: before each round, wait up to that long for the host to run at its calibrated
    speed (hwsim.calibrate.host_files.settle_host).
    """
    from hwsim.calibrate.device import describe_host, resolve_device
    from hwsim.calibrate.measure import measure, workload_label
    from hwsim.calibrate.rounds import merge_rounds, round_label
    from hwsim.estimate import estimate
    from hwsim.trace import trace_workload
    from hwsim.workload import load_workload

    device = resolve_device(device)
    workload = load_workload(ref, overrides)
    host = describe_host(device, threads)
    loaded, name, cal = resolve_system(device, host, system, calibration)
    est = estimate(trace_workload(workload), loaded, cal, system_name=name)
    label = workload_label(workload.name, overrides)

    def one_round(r: int) -> Measurement:
        if settle_s > 0:
            settle_host(cal, device, threads, max_wait_s=settle_s, progress=progress)
        return measure(
            workload, folder / "measurements" / host_stem(host), label=round_label(label, r), device=device,
            threads=threads, reps=reps, warmup=warmup, hook=hook, progress=progress, fresh=fresh,
            benches=DRIFT_BENCHES[device],
        )  # fmt: skip

    measurement = merge_rounds([one_round(r) for r in range(rounds)])
    v = compare(est, measurement, workload=workload.name, overrides=overrides)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return replace(v, drift=host_drift(cal, measurement), validated_at=now, rounds=rounds)
