"""Calibration files: what measurement taught us about achieved efficiency, kept apart from datasheets.

A calibration (`schema: hwsim.calibration/1`) gives, per op class and dtype, the fraction of a
device's datasheet roof that kernels of that class reach, as a function of op size, plus a per-kernel
launch overhead. It applies to devices of one kind (gpu, tpu, accelerator, cpu) or to one device.

Efficiency = best x curve(x), where
- best is the fraction of the roof reached by the largest, friendliest ops of the class (for a GEMM,
  the "maximum achievable matmul FLOPS" over the peak), and
- curve(x) is the shape: how much of `best` an op of size x reaches, a power law between
  neighbouring measured points and flat beyond them (hwsim.cost.curves says why log-log). For
  compute classes it lies in (0, 1]. A memory-bound class's curve may exceed 1 (up to MAX_CURVE)
  where ops of that size run from a cache faster than the DRAM-sized ops `best` describes: the
  measured cache level of the roofline (hwsim.calibrate.fit).
The size x is the op's *ideal time*: FLOP / peak FLOP/s for compute classes (matmul, attention) and
bytes / peak bandwidth for memory-bound classes. Measuring size in seconds at the roof, rather than in
FLOP or bytes, is what lets a curve fitted on one device apply to another of the same kind: a GEMM
that would take 5 us at peak under-fills an A100 and an H100 alike (Azure cuBLASLt sweeps: a 1 us
GEMM reaches ~15-40% of peak, a 1 ms one ~80%; see hardware_configs/calibrations/default-gpu.yaml).

Two host-side facts sit beside the efficiencies:
- `eager_overhead` ({train, inference}): host time per op outside the op itself when PyTorch runs a
  model eagerly from Python (module calls, autograd recording and the backward engine), measured on
  a chain of small modules (hwsim.calibrate.eager); the schedule adds it to every op's launch
  interval unless the step is captured as a graph. Absent: 0 (the default GPU files fold all host
  cost into `launch_overhead`).
- `unfused_ops`: custom ops (hwsim.trace.lowering.LOWERED) that the calibrated device runs as
  separate ATen passes; they are costed as those passes instead of as one fused kernel.

`statistic` (median or min, default min) says which statistic of each microbenchmark's repetitions
the times behind the efficiencies were: median (a typical op, what a step is made of; `hwsim
calibrate` writes this) or min (the best case; hand-written files, the published curves). Validation
compares an estimate with the same statistic of the measured run.

Two variants of a class may have entries of their own (keys `<class>_bwd` and `<class>_memory`):
- `<class>_bwd`: the class's backward-phase ops (a flash attention backward kernel reaches another
  fraction of the roof than its forward); without it they use `<class>`.
- `<compute class>_memory`: the fraction of the memory bandwidth that the memory term of a matmul or
  attention op reaches (a skinny decode GEMM streaming its weights, one-query decode attention);
  without it the memory term uses `default`.

`matmul_skinny` ({dtype: [[rows, factor], ...]}) describes GEMMs with a small output dimension
(decode's few tokens): the matmul efficiency of a GEMM whose min(m, n) is at most the last point's
rows is best x min(curve(ideal), factor(min(m, n))), the factor a power law in rows between its points. A
1-D curve over ideal time cannot hold both: an 8 x 4096 x 4096 GEMM takes as long at the roof as a
1000^3 one but reaches a quarter of its rate (measured on one Xeon core).

`attention_head` ({attention | attention_bwd: {dtype: [[head size, factor], ...]}}) describes how
the flash kernels' efficiency depends on the head size d at equal ideal time: each (query, key) pair
costs a softmax step whatever d is, while its FLOPs grow with d, so small heads reach less (one Xeon
core, causal forward at 128 tokens: 21.8, 33.5, 45.0 and 48.5 GFLOP/s at d = 16, 32, 64, 128). The
efficiency of an attention op is min(1, best x curve(ideal) x factor(d)), the factor a power
law in d between its points and flat beyond the measured sizes; it is relative to the class's curve, which
pools all head sizes, so it may exceed 1 (at most MAX_HEAD_FACTOR).

`attention_size` (op or head, default op) says what the size x of the attention curves is: the ideal
time of the whole op (op), or of one (batch, head) slice of it (head: x = FLOP / (batch x heads) /
peak; the op's efficiency is the slice's). A core that runs the heads one after another, as one CPU
thread does, spends on each head a fixed cost (its blocks' softmax bookkeeping, two small GEMMs'
set-up) that an op-sized x cannot see: at equal FLOPs, 64 one-query heads of 32 took 1.3-1.45x
as long as 32 heads of 64 on one Xeon core (benchmarks/attention_heads.py). Fitted CPU
calibrations of one thread write `head`; a GPU, which spreads heads over its SMs, keeps `op`
(hwsim.calibrate.fit says what the choice bought).

`op_entries` ({key: {dtype: entry}}, keys in hwsim.ir.OP_ENTRY_KEYS) gives some ops an entry of their
own in place of their class's, measured on the op itself (fractions of the memory bandwidth):
- activations, whose arithmetic, not their bytes, can set their time (GELU's tanh form on a CPU core:
  ~0.05 of what an add reaches); the key is the ATen target, "[tanh]" appended for tanh GELU;
- the zoo's RMS norm ops (hwsim.models.ops), where they run as a Python implementation of several
  ATen passes: their time on small rows is the implementation's per-call cost (25-29 us on one
  Xeon core, against 6 us for its six passes costed as kernels), which only timing the op itself
  shows. Such an entry takes precedence over `unfused_ops`.

`residency` ({rows: [[bytes, factor], ...]}, factors in (0, 1]) says how much faster a streaming op
(fewer than STREAMING_INTENSITY FLOP per byte: memory-bound ops, GEMV-like GEMMs) runs when the whole
step touches only that many bytes: the efficiencies above are measured with operands past the
last-level cache (hwsim.calibrate.microbench), which is where a step's operands are when the step
touches more than the cache holds, but a small model's decode step keeps its weights in the cache
between steps. Measured per GEMM row count on decode GEMMs cycling their operand copies
(hwsim.calibrate.fit), because how much of the cache's bandwidth a kernel turns into speed depends on
the kernel the BLAS picks for that row count (one Xeon core, three calibrations within an hour,
8-32 MiB against 450 MiB: 0.46-0.58 of the time at 1 and 2 rows, 0.58-0.76 at 4, 0.60-0.70 at 8,
0.79-0.97 at 16).
The roofline reads the curve at the step's traffic (the sum of its ops' bytes): a GEMM's at its
min(m, n), a power law in rows between the measured row counts and flat beyond them; any other
streaming op's at the fewest rows measured (a GEMV: the purest streaming kernel measured). The
factor shortens only the op's DRAM time, bytes / (bandwidth x its entry's `best`), never the rest of
its time: an op whose time is mostly a fixed per-call cost (the zoo's RMS norm on a short row, a
tiny elementwise op) is not made faster by its operands being in a cache. A plain list
([[bytes, factor], ...]) is one curve for every op. Absent: no scaling.

Why the traffic and not the step's footprint (weights, gradients, optimizer state, activations, KV
cache: hwsim.ir.MemoryFacts): re-estimating the 23 dev validation shapes both ways against the same
measurements, the footprint made the training steps' estimates 2-13% lower and their mean |error|
worse (17.2% against 14.5% over all 23); a training step allocates fresh activations and gradients
every step, so its streaming ops do not find them in the cache its footprint would suggest.

`host_cold` ({op_bytes: bytes, aten | target: [[bytes, time], ...]}) is host time an op pays inside
a step on top of its microbenchmark's. Between two calls of the same small op a step streams data
through the core's caches (its GEMMs' weights) and runs other ops, each with host state of its own
(interpreter and dispatcher code, Python objects, kernels); both evict the op's host working set,
which it then brings back from the L3 or DRAM. The microbenchmarks that give the per-call costs
(launch, the RMS norm op's and the activations' small rows) run hot. On one Xeon core a one-element
add took 1.7 us hot and 16-24 us right after a GEMV streamed 8 MiB; the zoo's RMS norm op 25 us
hot, 92 us after (benchmarks/cold_host.py), and 10 us more than hot after 32 distinct few-element
ops with no data streamed at all. The curves give the extra seconds of ops of a target ("aten" where
the target has none) over the distance since the previous call of the same target: the bytes its
ops touched plus `op_bytes` for each of them (the host state one op brings in), both measured and
fitted on a decoder-MLP chain (hwsim.calibrate.host_cold, hwsim.calibrate.fit). A target's first
call in a step counts from its last call in the previous step (steps repeat); a target called once,
the whole step. Compute-class ops get none: their microbenchmarks already run after their own
streaming (skinny GEMMs and decode attention cycle their operands) or are long enough not to care.
It is host time: the schedule adds it to the op's launch interval (hwsim.schedule). Absent: none.

Classes without an entry use the `default` entry (memory-bound). A dtype without an entry uses its
class's `default` entry; a dtype entry that gives only `best` keeps the default's curve.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hwsim.cost.curves import Curve, HostCold, Residency, read_factor_table, read_host_cold, read_residency
from hwsim.errors import InputError, Problems, did_you_mean, shown
from hwsim.ir import LOWERED_TARGETS, OP_CLASSES, OP_ENTRY_KEYS
from hwsim.resources import catalogue_dir, find_by_stem
from hwsim.units import QuantityError, parse_quantity
from hwsim.yamlio import FieldReader, display_path, load_with_extends, path_exists

__all__ = [
    "ATTENTION_SIZES",
    "COMPUTE_CLASSES",
    "STATISTICS",
    "STREAMING_INTENSITY",
    "Calibration",
    "ClassEfficiency",
    "Curve",
    "Residency",
    "default_calibration",
    "load_calibration",
]

SCHEMA = "hwsim.calibration/1"
# Classes whose efficiency is a fraction of the compute roof; all others are fractions of bandwidth.
COMPUTE_CLASSES = ("matmul", "attention")
DEVICE_KINDS = ("gpu", "tpu", "accelerator", "cpu")
MAX_CURVE = 50.0  # the most a (cache-resident) size may beat `best` by
# The most a memory-bound op's efficiency (best x curve) may exceed the DRAM roof by: a stream that
# stays in a core's L1/L2 reads roughly 10-16x what one core draws from DRAM on current server CPUs
# (the fitted Xeon file peaks at 1.97x). Compute-class efficiencies never exceed 1: nothing beats
# the tensor or vector units' peak.
MAX_CACHE_BONUS = 16.0
EFFICIENCY_KEYS = (
    *OP_CLASSES,
    *(f"{c}_bwd" for c in OP_CLASSES),
    *(f"{c}_memory" for c in COMPUTE_CLASSES),
)  # see the module doc
# FLOP per byte below which an op streams its operands (hwsim.calibrate.microbench cycles such rows'
# operands past the LLC; `residency` scales such ops)
STREAMING_INTENSITY = 8.0
HEAD_KEYS = ("attention", "attention_bwd")  # attention_head keys
MAX_HEAD_FACTOR = 10.0  # a head-size factor is relative to the pooled curve: it may exceed 1
ATTENTION_SIZES = ("op", "head")  # `attention_size`: what the x of the attention curves measures
STATISTICS = ("min", "median")  # `statistic`: of each microbenchmark's repetitions
EAGER_MODES = ("train", "inference")  # eager_overhead keys: a training step, a no-grad inference step


@dataclass(frozen=True, slots=True, kw_only=True)
class ClassEfficiency:
    best: float  # fraction of the roof reached by the friendliest large ops
    curve: Curve

    def __call__(self, ideal_s: float) -> float:
        return self.best * self.curve(ideal_s)

    def many(self, ideal_s: np.ndarray) -> np.ndarray:
        return self.best * self.curve.many(ideal_s)


@dataclass(frozen=True, slots=True, kw_only=True)
class Calibration:
    name: str  # file stem
    path: str
    applies_to_kind: str  # device kind this calibration is for
    applies_to_device: str | None  # a device stem, when fitted on or written for one device
    launch_overhead: float  # s added to every kernel
    eager_overhead: Mapping[str, float] = field(default_factory=dict)  # "train"/"inference" -> s per op
    unfused_ops: frozenset[str] = frozenset()  # custom-op targets costed as their ATen passes
    matmul_skinny: Mapping[str, Curve] = field(default_factory=dict)  # dtype -> factor over smallest dim
    # attention / attention_bwd -> dtype -> factor over head size
    attention_head: Mapping[str, Mapping[str, Curve]] = field(default_factory=dict)
    attention_size: str = "op"  # ATTENTION_SIZES: an attention curve's x is the whole op's or one head's
    efficiency: Mapping[str, Mapping[str, ClassEfficiency]]  # op class -> dtype ("default") -> entry
    threads: int | None = None  # CPU threads the measurements used; estimates assume the same
    fitted: bool = False  # True when produced by `hwsim calibrate` from measurements
    sources: tuple[str, ...] = ()
    meta: Mapping[str, str] = field(default_factory=dict)  # fitted-on facts: host, torch version, date
    statistic: str = "min"  # of the microbenchmarks' repetitions the efficiencies describe (STATISTICS)
    residency: Residency | None = None  # rows, bytes a step touches -> factor on streaming ops (the doc)
    host_cold: HostCold | None = None  # key, bytes since an op's last call -> in-step host seconds (the doc)
    # op key (hwsim.ir.OP_ENTRY_KEYS) -> dtype ("default") -> entry
    op_entries: Mapping[str, Mapping[str, ClassEfficiency]] = field(default_factory=dict)

    def eager_overhead_s(self, mode: str) -> float:
        """Host time per op outside the op when a step of `mode` (train, prefill, decode) runs eagerly."""
        return self.eager_overhead.get("train" if mode == "train" else "inference", 0.0)

    def skinny(self, dtype: str) -> Curve | None:
        """The matmul factor over a GEMM's smallest dimension for `dtype` (or the default), if any."""
        return self.matmul_skinny.get(dtype) or self.matmul_skinny.get("default")

    def head_factor(self, key: str, dtype: str) -> Curve | None:
        """The factor over attention head size of `key` (attention, attention_bwd) for `dtype`, if any."""
        by_dtype = self.attention_head.get(key) or {}
        return by_dtype.get(dtype) or by_dtype.get("default")

    def entry(self, op_class: str, dtype: str) -> ClassEfficiency:
        by_dtype = self.efficiency.get(op_class) or self.efficiency["default"]
        return by_dtype.get(dtype) or by_dtype["default"]

    def op_entry(self, key: str, dtype: str) -> ClassEfficiency | None:
        """The entry of an op of its own (hwsim.ir.op_entry_key) if the file has one, else None."""
        by_dtype = self.op_entries.get(key)
        return None if by_dtype is None else by_dtype.get(dtype) or by_dtype["default"]

    def variant(self, op_class: str, variant: str, dtype: str, fallback: str) -> ClassEfficiency:
        """The entry of `<op_class>_<variant>` ("bwd", "memory") if the file has one, else `fallback`'s."""
        key = f"{op_class}_{variant}"
        return self.entry(key if key in self.efficiency else fallback, dtype)


def _read_by_dtype(reader: FieldReader, *, compute: bool) -> dict[str, ClassEfficiency]:
    """{default: entry, <dtype>: entry, ...}: a dtype's entry may give only `best` (the default's curve).

    An entry's efficiency (best x curve) may reach at most 1 for a compute class (`compute`), and
    at most MAX_CACHE_BONUS for a memory-bound one."""
    by_dtype: dict[str, ClassEfficiency] = {}
    most = 1.0 if compute else MAX_CACHE_BONUS
    base = _read_entry(reader.mapping("default"), None, most)
    if base is not None:
        by_dtype["default"] = base
        for dtype, _ in list(reader.items()):
            if dtype != "default":
                entry = _read_entry(reader.mapping(dtype), base, most)
                if entry is not None:
                    by_dtype[dtype] = entry
    reader.finish()
    return by_dtype


def _read_entry(reader: FieldReader, fallback: ClassEfficiency | None, most: float) -> ClassEfficiency | None:
    best = reader.number("best", required=fallback is None, low=1e-6, high=1.0)
    points: list[tuple[float, float]] = []
    if reader.has("curve"):
        raw = reader.data["curve"]
        if not isinstance(raw, list) or not raw:
            reader.problems.add(reader.key("curve"), 'a list of ["ideal time", fraction] pairs', shown(raw))
        else:
            for i, pair in enumerate(raw):
                key = reader.key(f"curve[{i}]")
                if not (isinstance(pair, list) and len(pair) == 2):
                    reader.problems.add(key, 'a pair like ["5 us", 0.5]', shown(pair))
                    continue
                try:
                    t = parse_quantity(pair[0], "time")
                except QuantityError as exc:
                    reader.problems.add(key, exc.expected, exc.got, exc.hint)
                    continue
                y = pair[1]
                if isinstance(y, bool) or not isinstance(y, (int, float)) or not 0 < y <= MAX_CURVE or t <= 0:
                    expected = f"a positive time and a fraction in (0, {MAX_CURVE:g}]"
                    reader.problems.add(key, expected, shown(pair))
                    continue
                points.append((t, float(y)))
    elif fallback is None:
        points = [(1.0, 1.0)]  # no curve: the class reaches `best` at every size
    reader.finish()
    if fallback is None and (best is None or not points):  # every way here has added a problem
        return None
    curve = Curve(points=tuple(sorted(points))) if points else fallback.curve  # type: ignore[union-attr]
    entry = ClassEfficiency(best=best if best is not None else fallback.best, curve=curve)  # type: ignore[union-attr]
    peak = entry.best * max(y for _, y in entry.curve.points)
    if peak > most:
        what = "a compute class" if most == 1.0 else "a memory-bound class"
        reader.problems.add(
            reader.key("curve" if points else "best"),
            f"an efficiency (best x curve) of at most {most:g} for {what}",
            f"{peak:.3g}",
            "nothing runs faster than the compute roof" if most == 1.0 else "see MAX_CACHE_BONUS",
        )
        return None
    return entry


def _find_calibration(ref: str, from_path: Path) -> Path:
    candidate = (from_path.parent / ref) if ref.endswith((".yaml", ".yml")) else None
    if candidate is not None and path_exists(candidate):
        return candidate
    found = find_by_stem(catalogue_dir() / "calibrations", ref) or find_by_stem(from_path.parent, ref)
    if found is None:
        raise InputError.one(
            display_path(from_path), "extends", "the stem of a calibration file", shown(ref), "no such file"
        )
    return found


def load_calibration(ref: str | Path) -> Calibration:
    """Load a calibration by stem (hardware_configs/calibrations/) or by path, resolving `extends:`."""
    path = Path(ref)
    if not (path.suffix in (".yaml", ".yml") or path_exists(path)):
        found = find_by_stem(catalogue_dir() / "calibrations", str(ref))
        if found is None:
            names = sorted(p.stem for p in (catalogue_dir() / "calibrations").glob("*.yaml"))
            raise InputError.one(
                "<command line>",
                "--calibration",
                "a calibration file or stem",
                shown(str(ref)),
                "known: " + ", ".join(names),
            )
        path = found
    data = load_with_extends(path, SCHEMA, _find_calibration)
    problems = Problems(display_path(path))
    top = FieldReader(data, problems)
    top.strings("sources")
    top.string("description", required=False)
    applies = top.mapping("applies_to")
    kind = applies.string("kind", choices=DEVICE_KINDS)
    device = applies.string("device", required=False)
    applies.finish()
    overhead = top.quantity("launch_overhead", "time", positive=False)
    eager: dict[str, float] = {}
    if top.has("eager_overhead"):
        eager_reader = top.mapping("eager_overhead")
        for mode in EAGER_MODES:
            value = eager_reader.quantity(mode, "time", positive=False, required=False)
            if value is not None:
                eager[mode] = value
        eager_reader.finish()
    skinny = {}
    if top.has("matmul_skinny"):
        skinny = read_factor_table(top.mapping("matmul_skinny"), problems, what="rows", most=1.0)
    heads: dict[str, dict[str, Curve]] = {}
    if top.has("attention_head"):
        head_reader = top.mapping("attention_head")
        for key, _ in list(head_reader.items()):
            if key not in HEAD_KEYS:
                problems.add(head_reader.key(key), "attention or attention_bwd", shown(key))
                continue
            table = head_reader.mapping(key)
            heads[key] = read_factor_table(table, problems, what="head size", most=MAX_HEAD_FACTOR)
        head_reader.finish()
    attention_size = top.string("attention_size", choices=ATTENTION_SIZES, default="op") or "op"
    residency = (
        read_residency(data["residency"], top.key("residency"), problems) if top.has("residency") else None
    )
    host_cold = (
        read_host_cold(data["host_cold"], top.key("host_cold"), problems, LOWERED_TARGETS)
        if top.has("host_cold")
        else None
    )
    unfused = top.strings("unfused_ops", required=False)
    for i, target in enumerate(unfused):
        if target not in LOWERED_TARGETS:
            problems.add(
                top.key(f"unfused_ops[{i}]"),
                "a custom op hwsim can cost as its passes",
                shown(target),
                did_you_mean(target, LOWERED_TARGETS),
            )
    threads = top.integer("threads", required=False)
    statistic = top.string("statistic", choices=STATISTICS, default="min") or "min"
    fitted = top.boolean("fitted", default=False)
    meta_reader = top.mapping("fitted_on", required=False)
    meta = {k: str(v) for k, v in meta_reader.items()}
    eff_reader = top.mapping("efficiency")
    efficiency: dict[str, dict[str, ClassEfficiency]] = {}
    for op_class, _ in list(eff_reader.items()):
        if op_class != "default" and op_class not in EFFICIENCY_KEYS:
            problems.add(
                eff_reader.key(op_class),
                "an op class, <class>_bwd, matmul_memory, attention_memory or default",
                shown(op_class),
                did_you_mean(op_class, EFFICIENCY_KEYS),
            )
            continue
        compute = op_class.removesuffix("_bwd") in COMPUTE_CLASSES
        efficiency[op_class] = _read_by_dtype(eff_reader.mapping(op_class), compute=compute)
    op_entries: dict[str, dict[str, ClassEfficiency]] = {}
    if top.has("op_entries"):
        entry_reader = top.mapping("op_entries")
        for key, _ in list(entry_reader.items()):
            if key not in OP_ENTRY_KEYS:
                problems.add(entry_reader.key(key), "an op key (hwsim.ir.OP_ENTRY_KEYS)", shown(key),
                             did_you_mean(key, OP_ENTRY_KEYS))  # fmt: skip
                continue
            op_entries[key] = _read_by_dtype(entry_reader.mapping(key), compute=False)
        entry_reader.finish()
    if "default" not in efficiency and not problems.found:
        problems.add(
            eff_reader.key("default"),
            "an efficiency entry for memory-bound classes",
            "nothing",
            "add efficiency.default.default.best",
        )
    top.finish()
    problems.raise_if_any()
    return Calibration(
        name=path.stem,
        path=str(path),
        applies_to_kind=kind or "",
        applies_to_device=device,
        launch_overhead=overhead or 0.0,
        eager_overhead=eager,
        unfused_ops=frozenset(unfused or ()),
        matmul_skinny=skinny,
        attention_head=heads,
        attention_size=attention_size,
        efficiency=efficiency,
        threads=threads,
        fitted=fitted,
        sources=tuple(data.get("sources") or ()),
        meta=meta,
        statistic=statistic,
        op_entries=op_entries,
        residency=residency,
        host_cold=host_cold,
    )


@functools.lru_cache(maxsize=64)
def default_calibration(device_stem: str, device_kind: str) -> Calibration:
    """The shipped calibration for a device: `default-<stem>` if it exists, else `default-<kind>`.

    Cached per process: the shipped files do not change while hwsim runs, and a comparison or a
    sweep estimates many graphs on the same device.
    """
    folder = catalogue_dir() / "calibrations"
    for stem in (f"default-{device_stem}", f"default-{device_kind}"):
        if (folder / f"{stem}.yaml").exists():
            return load_calibration(folder / f"{stem}.yaml")
    raise InputError.one(
        display_path(folder),
        "",
        f'a calibration "default-{device_kind}.yaml"',
        "none",
        "pass --calibration FILE",
    )
