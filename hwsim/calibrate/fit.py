"""Fit microbenchmark rows into a calibration (hwsim.calibration/1) and a measured device (hwsim.device/1).

"time" below is each row's median over its repetitions (`statistic: median`, the default; `min` is
the other choice). Why the median: a model step is a sequence of ops, each of which takes its typical
time in that step; no step gets every op's luckiest repetition. Measured on this project's CPU host
(reports/validation, 11 workloads, 3 rounds x 20 steps): the sum of the ops in the fastest step was
4.5-9.7% above the sum of each op's own min, and within a few percent of the sum of their medians. A
fit of min times therefore describes a step no run achieves; validation compares with the same
statistic the calibration was fitted on (hwsim.calibrate.validate). A sweep of several rounds keeps,
per key, the round with the least time of that statistic (the host's slow spells last minutes).

The two files split what was measured the way the rest of hwsim splits facts from factors:

The device file holds the host's roofs, recorded as measured (`measured: true`), never as datasheet
values:
    peak FLOP/s per dtype  = the best GEMM rate, max over GEMM rows of 2mnk / time;
    memory bandwidth       = the copy bandwidth of the largest copy measured, 2 x bytes / time
                             (the largest is the one least helped by caches; a sysfs LLC of 300 MiB
                             on a shared VM says little about what one core gets);
    memory capacity        = RAM the OS reports (CPU) or the GPU's total memory.
A CPU file `extends: cpu_host` and gives its rates under compute.vector (as that template asks); a GPU
file gives tensor-core dtypes under compute.matrix and fp32 under compute.vector, like h200_sxm.yaml.
Rates are written to 4 significant digits and the fit uses exactly the written values.

The calibration holds the efficiencies against those roofs (see hwsim/cost/calibration.py):
    launch_overhead = the least per-call time of the one-element add (`launch` rows);
    for each op class and dtype, from each successful row:
        ideal    = flop / peak[dtype]         (matmul, attention)
                   bytes / memory bandwidth   (copy, elementwise, softmax, norm)
        achieved = ideal / (time - launch_overhead)   the fraction of the roof the op's own work
                   reached; the roofline adds the overhead back (time = ideal / eff + overhead)
        best     = min(1, max achieved)                          (matmul, attention)
                   min(1, achieved by the largest op measured)   (memory-bound classes)
        curve    = achieved / best against ideal, sorted by ideal, points of equal ideal averaged;
                   for matmul and attention capped at 1 and made non-decreasing by
                   pool-adjacent-violators (isotonic regression, least squares, equal weights), as in
                   default-gpu.yaml; for memory classes kept as measured (see below).
    Attention backward rows fit `attention_bwd`. attention_head[attention | attention_bwd]: per head
    size, how far that head size's rows sit from the class's curve (`_heads`). With attention_size
    head (what `hwsim calibrate` writes for one CPU thread) an attention row's x is the ideal time of
    one (batch, head) slice, ideal / (b x h); its achieved fraction is the op's. Chosen on the
    fifth session's 33 dev workloads by re-deriving both fits from the same microbenchmark rows
    and comparing with the measured ops (not fitted to them): causal forward MAPE 17.4% -> 12.0%,
    backward 14.7% -> 9.2% (88 ops each). A GEMM or
    decode-attention row the roofline calls memory-bound (bytes / bandwidth > flop / peak: a skinny
    decode GEMM, one-query attention) says nothing about compute efficiency: it fits `matmul_memory`
    / `attention_memory`, the bandwidth fraction of the memory term, with ideal = bytes / bandwidth
    (ROUTED_BY_ROOFLINE says why causal attention is not routed so).
    eager_overhead[train | inference] = min over the eager_train / eager_infer rows (seconds per op
    of a module chain run eagerly, hwsim.calibrate.eager) - launch_overhead, over the rows whose
    excess over the launch row is resolved (below).
    op_entries[key] (hwsim.ir.OP_ENTRY_KEYS): the activation rows and the zoo's RMS norm op rows
    (hwsim.calibrate.kernels.OP_ENTRY_KINDS), each op fitted as a memory class of its own: GELU's
    tanh form, whose arithmetic sets its time on a CPU core, is not costed at an add's rate, and the
    RMS norm op, a Python implementation of six ATen passes on the CPU, is costed at what one call
    of it takes (the curve's small sizes are its per-call cost) rather than as its passes.
    residency[m]: a decode GEMM (m x 1024 x 1024, m = 1, 2, 4, 8, 16) cycling copies of its operands
    totalling 8 MiB ... 256 MiB and past the LLC (`residency` rows): (bytes cycled, median time / the
    time past the LLC), non-decreasing, at most 1. The roofline scales a step's streaming ops by it
    at the bytes the step touches (hwsim.cost.calibration: `residency`). One curve per m, because
    the cache helps the BLAS kernel of each row count differently (one Xeon core, three
    calibrations: 0.46-0.58 of the past-LLC time at 1 and 2 rows in 8-32 MiB, 0.79-0.97 at 16).
    host_cold[aten | hwsim.rms_norm.default] and host_cold.op_bytes: from the `host_cold` /
    `host_cold_norm` rows (a decoder-MLP chain whose GEMMs stream their weights, with extra distinct
    small ops, hwsim.calibrate.host_cold): what a small op costs the host there beyond its hot time,
    against the data bytes and ops between two calls of it (hwsim.calibrate.fit_host.host_cold_fit).
    unfused_ops: the zoo's custom ops whose real implementation runs as separate ATen passes on the
    measured device (hwsim.ir.LOWERED_TARGETS: RMS norm, plain torch math on CPU and CUDA alike).
    Rows left out of the curve, and why: an op whose time is under OVERHEAD_DOMINATED x the launch
    overhead (the subtraction leaves mostly noise); a dtype with no GEMM peak.
    Unresolved rows (hwsim.calibrate.unresolved): every figure above that is a difference of two
    measurements (a curve row's time less the launch row's, an eager row's per-op time less the
    launch row's, a host_cold row's in-step less hot time) is fitted only where the difference of the
    medians exceeds the two measurements' spreads (median - min each); otherwise the row is not
    fitted, never floored to 0 or fitted as a negative time, and `Fit.unresolved` names it and says
    why (the calibration file lists them in comments, `hwsim calibrate` prints them).
    Why memory-bound classes take `best` from their largest op and keep their curve as measured:
    mid-sized ops that fit in a cache beat the DRAM copy roof (a 64 KiB add ran at 5x the 64 MiB copy
    rate on one Xeon core), so the max would describe the cache, and pooling the cache points with
    the slower DRAM-sized points into one non-decreasing curve would flatten both into a wrong middle.
    So `best` describes DRAM-sized ops, and the curve, which rises from the under-filled smallest ops
    to above 1 for cache-resident sizes (at most MAX_CURVE) and falls back to 1 at DRAM sizes, is
    the cache level of the roofline, measured rather than modelled. In a model the same holds: a
    small activation written by one op is in cache when the next op reads it (the first CPU
    validation estimated softmax 5x and norms up to 4.7x too slow with the curve capped at 1).
    `default` (a class's fallback dtype) is fp32 on a CPU and bf16 on a GPU when measured; the
    `default` class (memory-bound classes without their own entry) uses the elementwise fit.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from hwsim.calibrate.fit_host import (
    HOST_COLD_KEY_OF_KIND,
    host_cold_fit,
    isotonic,
    residency_fit,
    unresolved_rows,
)
from hwsim.calibrate.kernels import KERNELS, OP_ENTRY_KINDS
from hwsim.calibrate.results import MICRO, fastest_per_key
from hwsim.calibrate.unresolved import difference, row_name
from hwsim.cost.calibration import ATTENTION_SIZES, HEAD_KEYS, MAX_CURVE, MAX_HEAD_FACTOR, STATISTICS
from hwsim.cost.curves import Curve
from hwsim.errors import InputError
from hwsim.units import format_quantity, parse_quantity

__all__ = [
    "OVERHEAD_DOMINATED",
    "Entry",
    "Fit",
    "Roofs",
    "describe_fit",
    "fit_rows",
    "isotonic",
    "written",
]

# A row whose time is below this multiple of the launch overhead is mostly overhead: after
# subtracting the overhead what is left is as much noise as work, so it is kept out of the curves.
OVERHEAD_DOMINATED = 2.0
# Compute kinds and the efficiency key their rows fit; a row the roofline calls memory-bound
# (bytes / bandwidth > FLOP / peak: a skinny GEMM, one-query attention) fits `<class>_memory` instead.
COMPUTE_KEY_OF_KIND = {
    "gemm": "matmul",
    "attention": "attention",
    "attention_bwd": "attention_bwd",
    "attention_decode": "attention",
}
# Kinds whose memory-bound rows fit `<class>_memory`. Causal attention (forward, backward) always fits
# its compute curve: on a host whose DRAM roof is low, small attention is "memory-bound" by bytes /
# bandwidth yet runs slower than that bound (its time is the kernel's own fixed cost), so its compute
# curve carries it and the memory term (fitted on decode attention) stays below.
ROUTED_BY_ROOFLINE = ("gemm", "attention_decode")
COMPUTE_ROOF_KEYS = ("matmul", "attention", "attention_bwd")  # fractions of the peak FLOP/s
EAGER_MODE_OF_KIND = {"eager_train": "train", "eager_infer": "inference"}
NOT_CURVE_KINDS = ("launch", "residency", *EAGER_MODE_OF_KIND, *HOST_COLD_KEY_OF_KIND)  # fitted apart
MEMORY_CLASS_OF_KIND = {
    "copy": "copy",
    "add": "elementwise",
    "softmax": "softmax",
    "layer_norm": "norm",
    "rms_norm": "norm",
    "adamw": "optimizer",
}
OP_ENTRY_PREFIX = "op:"  # how fit_rows tells an op entry's points from a class's
DEFAULT_DTYPES = {"cpu": ("fp32", "bf16"), "cuda": ("bf16", "fp16", "tf32", "fp32")}
SAME_SIZE = 1.05  # ideal times within 5% of each other are one size in a curve
SKINNY_ROWS = 512  # GEMMs whose min(m, n) is at most this get the matmul_skinny factor
SKINNY_ONLY = 128  # ... and below this they are fitted into matmul_skinny only, not the size curve
SKINNY_LARGE = 1024  # a skinny row's largest dimension is at least this (its size does not limit it)
ROOF_DIGITS = 4  # significant digits of the written roofs
CURVE_DIGITS = 3  # significant digits of curve times and fractions, as in default-gpu.yaml


@dataclass(frozen=True, slots=True, kw_only=True)
class Roofs:
    """The measured roofs: peak FLOP/s per dtype, memory bandwidth, launch overhead, and what gave them."""

    peaks: dict[str, float]
    bandwidth: float
    launch_overhead: float
    eager_overhead: dict[str, float] = field(default_factory=dict)  # "train"/"inference" -> s per op
    notes: dict[str, str] = field(default_factory=dict)  # roof name -> the row it came from
    launch_row: dict[str, float] = field(default_factory=lambda: {"min_s": 0.0, "median_s": 0.0})  # its times


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One fitted efficiency: best fraction of the roof and the curve of (ideal s, fraction of best)."""

    best: float
    points: tuple[tuple[float, float], ...]
    rows: int  # rows the fit used


@dataclass(frozen=True, slots=True, kw_only=True)
class Fit:
    roofs: Roofs
    efficiency: dict[str, dict[str, Entry]]  # op class -> dtype -> entry
    left_out: dict[str, int]  # reason -> rows left out of the curves
    skinny: dict[str, tuple[tuple[int, float], ...]] = field(default_factory=dict)  # dtype -> (rows, factor)
    statistic: str = "median"  # of each row's repetitions (STATISTICS)
    op_entries: dict[str, dict[str, Entry]] = field(default_factory=dict)  # key (OP_ENTRY_KEYS) -> dtype
    # GEMM rows -> (bytes a step touches, factor on streaming ops)
    residency: dict[int, tuple[tuple[float, float], ...]] = field(default_factory=dict)
    heads: dict[str, dict[str, tuple[tuple[int, float], ...]]] = field(default_factory=dict)  # attention_head
    # "aten" or an op's target -> (bytes between two calls of the op, in-step host seconds)
    host_cold: dict[str, tuple[tuple[float, float], ...]] = field(default_factory=dict)
    host_op_bytes: float = 0.0  # host state one op brings in, counted into host_cold's distance
    attention_size: str = "op"  # the attention curves' x: the whole op's ideal time or one head's
    # rows not fitted because the difference they give is unresolved (hwsim.calibrate.unresolved): name -> why
    unresolved: dict[str, str] = field(default_factory=dict)


def _sig(value: float, digits: int) -> float:
    return float(f"{value:.{digits}g}")


def written(value: float, kind: str) -> tuple[str, float]:
    """A roof as the files write it (ROOF_DIGITS) and the value that text reads back as."""
    text = format_quantity(value, kind, digits=ROOF_DIGITS)
    return text, parse_quantity(text, kind)


def _roofs(rows: list[dict[str, Any]], where: str) -> tuple[Roofs, dict[str, str]]:
    """The roofs, and the eager rows not fitted because their excess over the launch row is unresolved."""
    ok = [r for r in rows if r["status"] == "ok" and r["time_s"] > 0]
    peaks: dict[str, float] = {}
    notes: dict[str, str] = {}
    for r in ok:
        if r["kind"] == "gemm" and r["flop"] / r["time_s"] > peaks.get(r["dtype"], 0.0):
            peaks[r["dtype"]] = r["flop"] / r["time_s"]
            notes[f"peak {r['dtype']}"] = f"gemm {r['dtype']} {r['shape']}"
    copies = [r for r in ok if r["kind"] == "copy"]
    if not peaks or not copies:
        missing = " and ".join(k for k, have in (("gemm", peaks), ("copy", copies)) if not have)
        raise InputError.one(
            where,
            "",
            "at least one successful gemm and copy measurement",
            f"no successful {missing} row",
            "rerun hwsim calibrate; see the error column",
        )
    largest = max(r["bytes"] for r in copies)
    copy = max((r for r in copies if r["bytes"] == largest), key=lambda r: r["bytes"] / r["time_s"])
    notes["bandwidth"] = f"copy {copy['dtype']} {copy['shape']}"
    launches = [r for r in ok if r["kind"] == "launch"]
    none = {"time_s": 0.0, "min_s": 0.0, "median_s": 0.0}
    launch = min(launches, key=lambda r: r["time_s"]) if launches else none
    overhead = launch["time_s"]
    notes["launch_overhead"] = "launch (one-element add)" if launches else "no successful launch row: 0"
    eager: dict[str, float] = {}
    unresolved: dict[str, str] = {}
    for r in ok:  # per-op time of an eager module chain, less the dispatch the launch row measures
        if r["kind"] in EAGER_MODE_OF_KIND:
            gap = difference(r, launch)
            if not gap.resolved:
                unresolved[row_name(r)] = "unresolved: " + gap.why("time per op less the launch row's")
                continue
            mode = EAGER_MODE_OF_KIND[r["kind"]]
            value = _sig(r["time_s"] - overhead, CURVE_DIGITS)  # > 0: a resolved difference (unresolved)
            if value < eager.get(mode, math.inf):
                eager[mode] = value
                notes[f"eager {mode}"] = row_name(r)
    peaks = {dt: written(p, "flop_rate")[1] for dt, p in peaks.items()}
    bandwidth = written(copy["bytes"] / copy["time_s"], "byte_rate")[1]
    roofs = Roofs(
        peaks=peaks,
        bandwidth=bandwidth,
        launch_overhead=_sig(overhead, CURVE_DIGITS),
        eager_overhead=eager,
        notes=notes,
        launch_row={"min_s": launch["min_s"], "median_s": launch["median_s"]},
    )
    return roofs, unresolved


def _bins(points: list[tuple[float, float]]) -> list[tuple[float, list[float]]]:
    """Points grouped by ideal time, sizes within SAME_SIZE of each other as one (e.g. layer norm
    and RMS norm rows of one shape, whose byte counts differ by a row of weights): (mean ideal, fractions)."""
    groups: list[list[tuple[float, float]]] = []
    for point in sorted(points):
        if groups and point[0] <= groups[-1][0][0] * SAME_SIZE:
            groups[-1].append(point)
        else:
            groups.append([point])
    return [(sum(x for x, _ in g) / len(g), [y for _, y in g]) for g in groups]


def _entry(points: list[tuple[float, float]], *, memory: bool, fastest: bool = False) -> Entry:
    """Points are (ideal s, achieved fraction of the roof); for memory classes ideal grows with bytes.

    `fastest`: a bin's value is its fastest point, not the mean (the `_memory` terms of compute
    classes: slower GEMMs of the same bytes are compute-limited, which the compute side describes).
    """
    if memory:  # the largest op is the one in the regime the DRAM roof describes (see the module doc)
        largest = max(ideal for ideal, _ in points)
        best = min(1.0, max(frac for ideal, frac in points if ideal == largest))
    else:
        best = min(1.0, max(frac for _, frac in points))
    bins = _bins(points)
    xs = [x for x, _ in bins]
    means = [
        min(MAX_CURVE if memory else 1.0, (max(f) if fastest else sum(f) / len(f)) / best) for _, f in bins
    ]
    ys = means if memory else isotonic(means, [float(len(f)) for _, f in bins])
    curve: dict[str, tuple[float, float]] = {}  # written time -> point; equal written times keep the last
    for x, y in zip(xs, ys, strict=True):
        text, t = _written_time(x)
        curve[text] = (t, max(_sig(y, CURVE_DIGITS), 10.0**-CURVE_DIGITS))
    return Entry(best=max(_sig(best, CURVE_DIGITS), 1e-6), points=tuple(curve.values()), rows=len(points))


def _skinny(rows: list[dict[str, Any]], fit: Fit) -> dict[str, tuple[tuple[int, float], ...]]:
    """matmul_skinny per dtype: the fraction of the matmul `best` that GEMMs with a small output dimension
    reach, by min(m, n) (rows whose other output dimension and k are >= SKINNY_LARGE, so that size does
    not limit them), averaged per min(m, n), capped at 1 and made non-decreasing."""
    by_dtype: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        dims = _gemm_dims(r)
        peak = fit.roofs.peaks.get(r["dtype"])
        entry = fit.efficiency.get("matmul", {}).get(r["dtype"])
        if dims is None or peak is None or entry is None or r["time_s"] <= fit.roofs.launch_overhead:
            continue
        if row_name(r) in fit.unresolved:  # its time less the launch overhead is unresolved
            continue
        rows_out = min(dims[0], dims[1])  # min(m, n): the streamed operand's reuse
        if rows_out <= SKINNY_ROWS and min(max(dims[:2]), dims[2]) >= SKINNY_LARGE:
            achieved = r["flop"] / peak / (r["time_s"] - fit.roofs.launch_overhead)
            by_dtype[r["dtype"]][rows_out].append(min(1.0, achieved / entry.best))
    out = {}
    for dtype, by_rows in sorted(by_dtype.items()):
        ms = sorted(by_rows)
        ys = isotonic([sum(by_rows[m]) / len(by_rows[m]) for m in ms], [float(len(by_rows[m])) for m in ms])
        out[dtype] = tuple(
            (m, max(_sig(y, CURVE_DIGITS), 10.0**-CURVE_DIGITS)) for m, y in zip(ms, ys, strict=True)
        )
    return out


def _gemm_dims(r: dict[str, Any]) -> tuple[int, ...] | None:
    if r["kind"] != "gemm" or r["status"] != "ok":
        return None
    return tuple(int(d) for d in str(r["shape"]).split("x"))


def _written_time(seconds: float) -> tuple[str, float]:
    text = format_quantity(seconds, "time", digits=CURVE_DIGITS)
    return text, parse_quantity(text, "time")


def fit_rows(
    rows: Iterable[dict[str, Any]],
    *,
    where: str = "<measurements>",
    statistic: str = "median",
    attention_size: str = "op",
) -> Fit:
    """The roofs and efficiency entries the microbenchmark `rows` (hwsim.calibrate.results.MICRO) give,
    from each row's `statistic` over its repetitions (STATISTICS; the module doc says why median);
    the attention curves over the ideal time of the whole op or of one head (ATTENTION_SIZES)."""
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {', '.join(STATISTICS)}, got {statistic!r}")
    if attention_size not in ATTENTION_SIZES:
        choices = ", ".join(ATTENTION_SIZES)
        raise ValueError(f"attention_size must be one of {choices}, got {attention_size!r}")
    column = f"{statistic}_s"
    rows = [r | {"time_s": r[column]} for r in fastest_per_key(rows, MICRO, column=column)]
    roofs, unresolved = _roofs(rows, where)
    overhead = roofs.launch_overhead
    points: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    by_head: dict[tuple[str, str], list[tuple[int, float, float]]] = defaultdict(list)  # (d, ideal, achieved)
    left_out: dict[str, int] = defaultdict(int)
    for r in rows:
        if r["status"] != "ok" or r["kind"] in NOT_CURVE_KINDS:
            continue
        size = None  # the curve's x where it is not the ideal time (one head's: attention_size head)
        if r["kind"] in COMPUTE_KEY_OF_KIND:
            peak = roofs.peaks.get(r["dtype"])
            if peak is None:
                left_out[f"no gemm peak for {r['dtype']}"] += 1
                continue
            ideal = r["flop"] / peak
            op_class = COMPUTE_KEY_OF_KIND[r["kind"]]
            if r["kind"] in ROUTED_BY_ROOFLINE and r["bytes"] / roofs.bandwidth > ideal:  # memory term
                ideal = r["bytes"] / roofs.bandwidth
                op_class = op_class.removesuffix("_bwd") + "_memory"
            elif op_class in HEAD_KEYS and attention_size == "head":  # attention rows: [b, h, s, d]
                b, h = (int(d) for d in str(r["shape"]).split("x")[:2])
                size = ideal / (b * h)
        elif r["kind"] in MEMORY_CLASS_OF_KIND:
            ideal = r["bytes"] / roofs.bandwidth
            op_class = MEMORY_CLASS_OF_KIND[r["kind"]]
        elif r["kind"] in OP_ENTRY_KINDS:  # an op's own entry (activation, RMS norm op), OP_ENTRY_KEYS
            ideal = r["bytes"] / roofs.bandwidth
            op_class = OP_ENTRY_PREFIX + OP_ENTRY_KINDS[r["kind"]][0]
        else:
            left_out[f"unknown kind {r['kind']}"] += 1
            continue
        if ideal <= 0 or r["time_s"] < OVERHEAD_DOMINATED * overhead:
            left_out["overhead-dominated"] += 1
            continue
        if not (gap := difference(r, roofs.launch_row)).resolved:  # what the curve divides by
            unresolved[row_name(r)] = "unresolved: " + gap.why("time less the launch row's")
            continue
        dims = _gemm_dims(r)
        if op_class == "matmul" and dims and min(dims[:2]) < SKINNY_ONLY and max(dims) >= SKINNY_LARGE:
            left_out["skinny GEMM (matmul_skinny only)"] += 1
            continue
        swept = r["kind"] in MEMORY_CLASS_OF_KIND or r["kind"] in OP_ENTRY_KINDS
        if swept and r.get("op_class") != KERNELS[r["kind"]].op_class:
            left_out["ran as several ATen ops"] += 1  # hwsim.calibrate.microbench: not one kernel here
            continue
        points[(op_class, r["dtype"])].append((size or ideal, ideal / (r["time_s"] - overhead)))
        if op_class in HEAD_KEYS:  # causal attention: [b, h, s, d]
            head = int(str(r["shape"]).split("x")[3])
            by_head[(op_class, r["dtype"])].append((head, *points[(op_class, r["dtype"])][-1]))
    efficiency: dict[str, dict[str, Entry]] = defaultdict(dict)
    op_entries: dict[str, dict[str, Entry]] = defaultdict(dict)
    for (op_class, dtype), pts in sorted(points.items()):
        memory = op_class not in COMPUTE_ROOF_KEYS
        entry = _entry(pts, memory=memory, fastest=op_class.endswith("_memory"))
        if op_class.startswith(OP_ENTRY_PREFIX):
            op_entries[op_class.removeprefix(OP_ENTRY_PREFIX)][dtype] = entry
        else:
            efficiency[op_class][dtype] = entry
    unresolved |= unresolved_rows(rows)
    fit = Fit(roofs=roofs, efficiency=dict(efficiency), left_out=dict(left_out), statistic=statistic,
              op_entries=dict(op_entries), attention_size=attention_size, unresolved=unresolved)  # fmt: skip
    op_bytes, host_cold = host_cold_fit(rows, skip=set(unresolved))
    return replace(fit, skinny=_skinny(rows, fit), residency=residency_fit(rows), heads=_heads(by_head, fit),
                   host_cold=host_cold, host_op_bytes=op_bytes)  # fmt: skip


def _heads(
    by_head: dict[tuple[str, str], list[tuple[int, float, float]]], fit: Fit
) -> dict[str, dict[str, tuple[tuple[int, float], ...]]]:
    """attention_head per key and dtype: for each head size d, the geometric mean over its rows of
    achieved / (best x curve(ideal)) (the class's entry pools every head size, so the factor is how far
    rows of that d sit from it), made non-decreasing in d (a bigger head does more work per
    (query, key) pair: what says otherwise is noise). Only where two head sizes or more were measured."""
    out: dict[str, dict[str, tuple[tuple[int, float], ...]]] = defaultdict(dict)
    for (key, dtype), rows in sorted(by_head.items()):
        entry = fit.efficiency[key][dtype]
        curve = Curve(points=entry.points)
        logs: dict[int, list[float]] = defaultdict(list)
        for d, ideal, achieved in rows:
            logs[d].append(math.log(achieved / (entry.best * curve(ideal))))
        if len(logs) < 2:
            continue
        ds = sorted(logs)
        ys = isotonic([sum(logs[d]) / len(logs[d]) for d in ds], [float(len(logs[d])) for d in ds])
        factors = (_sig(min(MAX_HEAD_FACTOR, math.exp(y)), CURVE_DIGITS) for y in ys)
        out[key][dtype] = tuple(zip(ds, factors, strict=True))
    return dict(out)


def describe_fit(fit: Fit) -> list[str]:
    """Short lines for the terminal: the roofs, each class's best, and each row not fitted as unresolved."""
    roofs = fit.roofs
    lines = [
        "peak "
        + ", ".join(f"{dt} {format_quantity(p, 'flop_rate')}" for dt, p in sorted(roofs.peaks.items())),
        f"memory bandwidth {format_quantity(roofs.bandwidth, 'byte_rate')}, "
        f"launch overhead {format_quantity(roofs.launch_overhead, 'time')}",
    ]
    if roofs.eager_overhead:
        lines.append(
            "eager framework overhead per op: "
            + ", ".join(f"{m} {format_quantity(t, 'time')}" for m, t in sorted(roofs.eager_overhead.items()))
        )
    for op_class, by_dtype in sorted(fit.efficiency.items()):
        lines.append(
            f"{op_class}: "
            + ", ".join(
                f"{dt} best {e.best:g} ({len(e.points)} points)" for dt, e in sorted(by_dtype.items())
            )
        )
    lines += [f"not fitted, {name}: {why}" for name, why in sorted(fit.unresolved.items())]
    return lines
