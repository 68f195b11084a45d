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

from hwsim.cost.calibration import COMPUTE_CLASSES, Calibration
from hwsim.hardware.spec import Device
from hwsim.ir import Op

__all__ = ["OpCost", "op_cost"]


@dataclass(frozen=True, slots=True, kw_only=True)
class OpCost:
    compute_s: float
    memory_s: float
    bound: str  # "compute" or "memory"
    in_range: bool  # the op's size lies inside the calibration's measured points

    @property
    def kernel_s(self) -> float:
        return max(self.compute_s, self.memory_s)


def op_cost(op: Op, device: Device, calibration: Calibration) -> OpCost:
    """Cost of `op` on `device`; the caller has checked that the device supports the op's dtype."""
    in_range = True
    compute_s = 0.0
    memory_class = "default"
    if op.op_class in COMPUTE_CLASSES and op.flop > 0:
        peak = device.peak_flops(op.dtype)
        if peak is None:
            raise ValueError(f"{device.name} has no compute rate for {op.dtype}")
        ideal = op.flop / peak
        entry = calibration.entry(op.op_class, op.dtype)
        compute_s = ideal / entry(ideal)
        in_range = _covers(entry, ideal)
    else:
        memory_class = op.op_class
    memory_ideal = op.bytes / device.memory_bandwidth
    memory_entry = calibration.entry(memory_class, op.dtype)
    memory_s = memory_ideal / memory_entry(memory_ideal) if memory_ideal > 0 else 0.0
    if op.op_class not in COMPUTE_CLASSES:
        in_range = _covers(memory_entry, memory_ideal)
    bound = "compute" if compute_s >= memory_s else "memory"
    return OpCost(compute_s=compute_s, memory_s=memory_s, bound=bound, in_range=in_range)


def _covers(entry, ideal_s: float) -> bool:
    # A curve of one point carries no size information (a published single figure): no range to leave.
    return len(entry.curve.points) < 2 or entry.curve.covers(ideal_s)
