"""Kernel time of each op on one device: a roofline with calibrated efficiencies.

    compute_s  = FLOP  / (peak FLOP/s for the op's dtype x compute efficiency)   (matmul, attention)
    memory_s   = bytes / (memory bandwidth x memory efficiency)
Efficiencies come from the calibration by op class and dtype; backward-phase ops use the class's
`_bwd` entry, the memory term of a matmul or attention op its `_memory` entry, a GEMM with a
small output dimension the `matmul_skinny` factor, an attention op the `attention_head` factor at
its head size (its curve read at the ideal time of one (batch, head) slice where the calibration's
`attention_size` is head), and an op with an entry of its own (`op_entries`: activations, the
zoo's RMS norm) that entry, where the calibration has them (hwsim.cost.calibration).
    kernel_s   = max(compute_s, memory_s)

The op is `compute`- or `memory`-bound by the larger term. Memory-bound classes (elementwise, norm,
...) get no compute term: their FLOPs are a few per byte and vector units are not what limits them on
any device hwsim knows. Launch overhead is not part of the kernel: hwsim.schedule places kernels on
the device's timeline behind the host that launches them.

With `residency` curves, the streaming ops (under STREAMING_INTENSITY FLOP per byte) of a step are
scaled by the curve at the step's traffic, the sum of all its ops' bytes (the efficiencies describe
operands past the last-level cache; a step that touches less keeps them in it): a GEMM by the curve
of its min(m, n) rows, any other op by the fewest rows' curve; the factor shortens the op's DRAM time
(bytes / (bandwidth x its entry's best)) only, not a fixed per-call cost (hwsim.cost.calibration:
`residency`).

A custom op the calibration lists in `unfused_ops` (a device that has no fused kernel for it) and
gives no entry of its own is costed as the ATen passes its eager code runs (attrs["passes"],
hwsim.trace.lowering): the sum of each pass's memory time at its own class's efficiency, plus one
launch overhead for every pass after the first (the op's own launch is the schedule's).

With `host_cold` curves, each op outside the compute classes also gets host seconds, read at the
bytes and ops between it and the previous call of its target (hwsim.cost.calibration: `host_cold`);
hwsim.schedule adds them to the op's launch interval.

Ops are costed in numpy arrays, one group of ops per (op class, dtype, variant), so that a 10,000-op
training step estimates in milliseconds (benchmarks/bench_estimate.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hwsim.cost.calibration import COMPUTE_CLASSES, STREAMING_INTENSITY, Calibration
from hwsim.hardware.spec import Device
from hwsim.ir import Op, op_entry_key

__all__ = ["OpCost", "OpCosts", "Roofline", "op_cost"]


@dataclass(frozen=True, slots=True, kw_only=True)
class OpCost:
    """The cost of one op (a row of OpCosts)."""

    compute_s: float
    memory_s: float
    kernel_s: float  # max(compute_s, memory_s)
    bound: str  # "compute" or "memory"
    in_range: bool  # the op's size lies inside the calibration's measured points


@dataclass(frozen=True, slots=True, kw_only=True)
class OpCosts:
    """Costs of all ops of a graph as arrays in graph order."""

    compute_s: np.ndarray
    memory_s: np.ndarray
    in_range: np.ndarray  # bool
    residency: np.ndarray | None = None  # the factor each op's time was scaled by (None: no curve)
    traffic_bytes: float = 0.0  # the bytes the ops touch together (what `residency` is read at)
    host_s: np.ndarray | None = None  # in-step host seconds of each op (`host_cold`; None: no curve)

    @property
    def kernel_s(self) -> np.ndarray:
        return np.maximum(self.compute_s, self.memory_s)

    @property
    def compute_bound(self) -> np.ndarray:
        return self.compute_s >= self.memory_s

    def __len__(self) -> int:
        return len(self.compute_s)

    def residency_json(self) -> dict[str, float]:
        """The step's traffic in bytes and the least factor `residency` put on an op (1: none scaled)."""
        least = float(self.residency.min()) if self.residency is not None and len(self.residency) else 1.0
        return {"traffic_bytes": self.traffic_bytes, "least_factor": least}

    def host_cold_json(self) -> dict[str, float]:
        """The in-step host seconds `host_cold` added, in all and at most on one op (0: none)."""
        host = self.host_s if self.host_s is not None and len(self.host_s) else np.zeros(1)
        return {"total_s": float(host.sum()), "most_s": float(host.max())}

    def __getitem__(self, i: int) -> OpCost:
        c, m = float(self.compute_s[i]), float(self.memory_s[i])
        return OpCost(
            compute_s=c,
            memory_s=m,
            kernel_s=max(c, m),
            bound="compute" if c >= m else "memory",
            in_range=bool(self.in_range[i]),
        )


class Roofline:
    """Costs ops on one device under one calibration."""

    def __init__(self, device: Device, calibration: Calibration) -> None:
        self.device = device
        self.calibration = calibration

    def costs(self, ops: Sequence[Op]) -> OpCosts:
        """Costs of `ops`; the caller has checked that the device supports their compute dtypes."""
        n = len(ops)
        flop = np.fromiter((op.flop for op in ops), dtype=float, count=n)
        nbytes = np.fromiter((op.bytes_read + op.bytes_written for op in ops), dtype=float, count=n)
        cal = self.calibration
        groups: dict[tuple[str, str, bool, bool, str], list[int]] = {}
        for i, op in enumerate(ops):
            is_compute = op.op_class in COMPUTE_CLASSES and op.flop > 0
            key = op_entry_key(op.target, op.attrs) if cal.op_entries and not is_compute else ""
            key = key if key in cal.op_entries else ""  # an op with an entry of its own
            groups.setdefault((op.op_class, op.dtype, is_compute, op.phase == "bwd", key), []).append(i)
        compute_s = np.zeros(n)
        memory_s = np.zeros(n)
        in_range = np.ones(n, dtype=bool)
        memory_ideal = nbytes / self.device.memory_bandwidth
        dram_s = np.zeros(n)  # bytes at the class's DRAM-sized rate: what cache residency can shorten
        for (op_class, dtype, is_compute, backward, key), members in groups.items():
            idx = np.asarray(members)
            entry = cal.variant(op_class, "bwd", dtype, op_class) if backward else cal.entry(op_class, dtype)
            entry = (cal.op_entry(key, dtype) or entry) if key else entry
            if is_compute:
                peak = self.device.peak_flops(dtype)
                if peak is None:
                    raise ValueError(f"{self.device.name} has no compute rate for {dtype}")
                ideal = flop[idx] / peak
                size = ideal  # the x its curves are read at (attention_size: the op's or one head's)
                if op_class == "attention" and cal.attention_size == "head":
                    size = ideal / np.array([_head_slices(ops[i]) for i in members])
                efficiency = entry.many(size)
                skinny = cal.skinny(dtype) if op_class == "matmul" else None
                if skinny is not None:
                    smallest = np.array([_smallest_dim(ops[i]) for i in members])
                    factor = np.where(smallest <= skinny.points[-1][0], skinny.many(smallest), 1.0)
                    efficiency = entry.best * np.minimum(entry.curve.many(size), factor)
                head = cal.head_factor("attention_bwd" if backward else "attention", dtype)
                if op_class == "attention" and head is not None:
                    d = np.array([float(ops[i].attrs.get("head_dim", 0)) for i in members])
                    efficiency = np.minimum(1.0, efficiency * np.where(d > 0, head.many(d), 1.0))
                compute_s[idx] = ideal / efficiency
                in_range[idx] = entry.curve.covers_many(size)
            memory_entry = cal.variant(op_class, "memory", dtype, "default") if is_compute else entry
            mem = memory_ideal[idx]
            memory_s[idx] = np.where(mem > 0, mem / memory_entry.many(mem), 0.0)
            dram_s[idx] = mem / memory_entry.best
            if not is_compute:
                in_range[idx] = memory_entry.curve.covers_many(mem)
        if self.calibration.unfused_ops:
            for i, op in enumerate(ops):
                own = op.target in cal.op_entries  # measured on the op itself: better than a pass model
                if op.target in cal.unfused_ops and "passes" in op.attrs and not own:
                    compute_s[i], memory_s[i] = 0.0, self._passes_s(op)
        traffic = float(nbytes.sum())
        factor = None
        if cal.residency is not None:  # a step that touches little keeps its streaming ops' operands in cache
            streaming = (nbytes > 0) & (flop < STREAMING_INTENSITY * nbytes)
            rows = np.array([_smallest_dim(op) if op.op_class == "matmul" else 0.0 for op in ops])
            factor = np.where(streaming, cal.residency.many(traffic, rows), 1.0)
            # the factor shortens the op's DRAM time only, never its fixed per-call cost
            compute_s -= (1.0 - factor) * np.minimum(compute_s, dram_s)
            memory_s -= (1.0 - factor) * np.minimum(memory_s, dram_s)
        host = None
        if cal.host_cold is not None:
            compute = np.fromiter((op.op_class in COMPUTE_CLASSES and op.flop > 0 for op in ops), bool, n)
            host = np.where(compute, 0.0, self._host_cold_s(ops, nbytes))
        return OpCosts(compute_s=compute_s, memory_s=memory_s, in_range=in_range, residency=factor,
                       traffic_bytes=traffic, host_s=host)  # fmt: skip

    def _host_cold_s(self, ops: Sequence[Op], nbytes: np.ndarray) -> np.ndarray:
        """Each op's `host_cold` seconds at the distance from its target's previous call: the bytes the
        ops from that call up to it touched, plus op_bytes for each (a target's first call: from its
        last call, the step being repeated; a target called once: the whole step)."""
        host_cold = self.calibration.host_cold
        assert host_cold is not None
        touched = nbytes + host_cold.op_bytes  # each op's data and the host state it brings in
        before = np.cumsum(touched) - touched  # bytes touched before each op starts
        total = float(touched.sum())
        n = len(ops)
        previous = np.arange(n)  # the previous call of each op's target (itself: none in this step)
        last: dict[str, int] = {}
        first: dict[str, int] = {}
        known = set(host_cold.keys())
        groups: dict[str, list[int]] = {}  # curve key -> ops
        for i, op in enumerate(ops):
            target = op.target
            j = last.get(target)
            if j is None:
                first[target] = i
            else:
                previous[i] = j
            last[target] = i
            groups.setdefault(target if target in known else "aten", []).append(i)
        distance = before - before[previous]
        for target, i in first.items():  # wrap around: from the last call in the previous step
            distance[i] = total - before[last[target]] + before[i] if last[target] != i else total
        out = np.zeros(n)
        for key, members in groups.items():
            idx = np.asarray(members)
            out[idx] = host_cold.many(key, distance[idx])
        return out

    def _passes_s(self, op: Op) -> float:
        """Seconds of an unfused op: its passes one after another, each memory-bound at its class's curve."""
        passes = op.attrs["passes"]
        total = self.calibration.launch_overhead * (len(passes) - 1)
        for op_class, _flop, nbytes in passes:
            ideal = nbytes / self.device.memory_bandwidth
            if ideal > 0:
                total += ideal / self.calibration.entry(op_class, op.dtype)(ideal)
        return total

    def __call__(self, op: Op) -> OpCost:
        return self.costs([op])[0]


def _head_slices(op: Op) -> float:
    """batch x heads of an attention op (hwsim.trace.rules records both): the slices a core runs one
    after another; 1 when not recorded."""
    return float(max(1, int(op.attrs.get("batch", 1)) * int(op.attrs.get("heads", 1))))


def _smallest_dim(op: Op) -> float:
    """The smaller output dimension of a GEMM, min(m, n) (hwsim.trace.rules records them); inf when
    not recorded. A small m or n is the GEMV-like regime where one operand streams with little reuse."""
    attrs = op.attrs
    if "m" in attrs and "n" in attrs:
        return float(min(attrs["m"], attrs["n"]))
    return float("inf")


def op_cost(op: Op, device: Device, calibration: Calibration) -> OpCost:
    """Cost of one op (Roofline.costs costs many at once)."""
    return Roofline(device, calibration)(op)
