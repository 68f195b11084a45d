"""Kernel time of each op on one device: a roofline with calibrated efficiencies.

    compute_s  = FLOP  / (peak FLOP/s for the op's dtype x compute efficiency)   (matmul, attention)
    memory_s   = bytes / (memory bandwidth x memory efficiency)
    kernel_s   = max(compute_s, memory_s)

The op is `compute`- or `memory`-bound by the larger term. Memory-bound classes (elementwise, norm,
...) get no compute term: their FLOPs are a few per byte and vector units are not what limits them on
any device hwsim knows. Launch overhead is not part of the kernel: hwsim.schedule places kernels on
the device's timeline behind the host that launches them.

Ops are costed in numpy arrays, one group of ops per (op class, dtype), so that a 10,000-op
training step estimates in milliseconds (benchmarks/bench_estimate.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hwsim.cost.calibration import COMPUTE_CLASSES, Calibration
from hwsim.hardware.spec import Device
from hwsim.ir import Op

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

    @property
    def kernel_s(self) -> np.ndarray:
        return np.maximum(self.compute_s, self.memory_s)

    @property
    def compute_bound(self) -> np.ndarray:
        return self.compute_s >= self.memory_s

    def __len__(self) -> int:
        return len(self.compute_s)

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
        groups: dict[tuple[str, str, bool], list[int]] = {}
        for i, op in enumerate(ops):
            is_compute = op.op_class in COMPUTE_CLASSES and op.flop > 0
            groups.setdefault((op.op_class, op.dtype, is_compute), []).append(i)
        compute_s = np.zeros(n)
        memory_s = np.zeros(n)
        in_range = np.ones(n, dtype=bool)
        memory_ideal = nbytes / self.device.memory_bandwidth
        for (op_class, dtype, is_compute), members in groups.items():
            idx = np.asarray(members)
            if is_compute:
                peak = self.device.peak_flops(dtype)
                if peak is None:
                    raise ValueError(f"{self.device.name} has no compute rate for {dtype}")
                entry = self.calibration.entry(op_class, dtype)
                ideal = flop[idx] / peak
                compute_s[idx] = ideal / entry.many(ideal)
                in_range[idx] = entry.curve.covers_many(ideal)
            memory_entry = self.calibration.entry("default" if is_compute else op_class, dtype)
            mem = memory_ideal[idx]
            memory_s[idx] = np.where(mem > 0, mem / memory_entry.many(mem), 0.0)
            if not is_compute:
                in_range[idx] = memory_entry.curve.covers_many(mem)
        return OpCosts(compute_s=compute_s, memory_s=memory_s, in_range=in_range)

    def __call__(self, op: Op) -> OpCost:
        return self.costs([op])[0]


def op_cost(op: Op, device: Device, calibration: Calibration) -> OpCost:
    """Cost of one op (Roofline.costs costs many at once)."""
    return Roofline(device, calibration)(op)
