"""Kernel time of one op on one device: a roofline with calibrated efficiencies.

    compute_s  = FLOP  / (peak FLOP/s for the op's dtype x compute efficiency)   (matmul, attention)
    memory_s   = bytes / (memory bandwidth x memory efficiency)
    kernel_s   = max(compute_s, memory_s)

The op is `compute`- or `memory`-bound by the larger term. Memory-bound classes (elementwise, norm,
...) get no compute term: their FLOPs are a few per byte and vector units are not what limits them on
any device hwsim knows. Launch overhead is not part of the kernel: hwsim.schedule places kernels on
the device's timeline behind the host that launches them.
"""

from __future__ import annotations

from dataclasses import dataclass

from hwsim.cost.calibration import COMPUTE_CLASSES, Calibration, ClassEfficiency
from hwsim.hardware.spec import Device
from hwsim.ir import Op

__all__ = ["OpCost", "Roofline", "op_cost"]


@dataclass(frozen=True, slots=True, kw_only=True)
class OpCost:
    compute_s: float
    memory_s: float
    kernel_s: float  # max(compute_s, memory_s)
    bound: str  # "compute" or "memory"
    in_range: bool  # the op's size lies inside the calibration's measured points


class Roofline:
    """Costs ops on one device under one calibration; caches what depends only on (op class, dtype)."""

    def __init__(self, device: Device, calibration: Calibration) -> None:
        self.device = device
        self.calibration = calibration
        self._compute: dict[tuple[str, str], tuple[float, ClassEfficiency]] = {}
        self._memory: dict[tuple[str, str], ClassEfficiency] = {}

    def _compute_entry(self, op_class: str, dtype: str) -> tuple[float, ClassEfficiency]:
        key = (op_class, dtype)
        if key not in self._compute:
            peak = self.device.peak_flops(dtype)
            if peak is None:
                raise ValueError(f"{self.device.name} has no compute rate for {dtype}")
            self._compute[key] = (peak, self.calibration.entry(op_class, dtype))
        return self._compute[key]

    def _memory_entry(self, op_class: str, dtype: str) -> ClassEfficiency:
        key = (op_class, dtype)
        if key not in self._memory:
            self._memory[key] = self.calibration.entry(op_class, dtype)
        return self._memory[key]

    def __call__(self, op: Op) -> OpCost:
        """Cost of `op`; the caller has checked that the device supports the op's dtype."""
        compute_s = 0.0
        compute_class = op.op_class in COMPUTE_CLASSES and op.flop > 0
        if compute_class:
            peak, entry = self._compute_entry(op.op_class, op.dtype)
            ideal = op.flop / peak
            compute_s = ideal / entry(ideal)
            in_range = _covers(entry, ideal)
        memory_ideal = (op.bytes_read + op.bytes_written) / self.device.memory_bandwidth
        memory_entry = self._memory_entry("default" if compute_class else op.op_class, op.dtype)
        memory_s = memory_ideal / memory_entry(memory_ideal) if memory_ideal > 0 else 0.0
        if not compute_class:
            in_range = _covers(memory_entry, memory_ideal)
        if compute_s >= memory_s:
            return OpCost(
                compute_s=compute_s, memory_s=memory_s, kernel_s=compute_s, bound="compute", in_range=in_range
            )
        return OpCost(
            compute_s=compute_s, memory_s=memory_s, kernel_s=memory_s, bound="memory", in_range=in_range
        )


def op_cost(op: Op, device: Device, calibration: Calibration) -> OpCost:
    """Cost of one op (see Roofline for costing many)."""
    return Roofline(device, calibration)(op)


def _covers(entry: ClassEfficiency, ideal_s: float) -> bool:
    # A curve of one point carries no size information (a published single figure): no range to leave.
    return len(entry.curve.points) < 2 or entry.curve.covers(ideal_s)
