"""The one entry point from a traced Graph and a System to an Estimate: time, memory, FLOPs, bounds.

Single device for now: every op of the graph runs on one device, one after another on one stream.
Each kernel's time comes from hwsim.cost.roofline; hwsim.schedule places the kernels behind the host
that launches them: "sync" on a CPU (each op waits for its own dispatch), "async" on accelerators
running eagerly, "graph" when the workload says its step is captured (task.launch: graph, as
inference engines run decode with CUDA graphs). A calibration fitted on a host that ran the model
eagerly adds its `eager_overhead` (Python and autograd time per op) to every launch interval except
under "graph"; that time is the "framework" bound. Definitions of the headline figures:

- model_flop: FLOPs of the matmul and attention ops of one step that the model's math needs, not
  counting recomputation (ops tagged attrs["recompute"]); the numerator of MFU as the Megatron
  (Narayanan et al. 2021) and PaLM (Chowdhery et al. 2022, appendix B) papers define it.
- hardware_flop: the same ops including recomputation; the numerator of HFU.
- mfu / hfu: model_flop (hardware_flop) / (step time x device peak for the workload's dtype).
- tflops_per_device: hardware_flop / step time / 1e12 (what the device actually executed).
- tokens_per_s: tokens processed per step / step time (training and prefill: every input token;
  decode: one new token per sequence).
- ttft_s: a prefill step's time (the first token's latency); tpot_s: a decode step's time.
- memory.peak_bytes: weights + gradients + optimizer states + activations kept for backward + KV
  cache + transient peak, per device, from the graph's MemoryFacts.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hwsim.cost.calibration import COMPUTE_CLASSES, Calibration, default_calibration
from hwsim.cost.roofline import OpCosts, Roofline
from hwsim.errors import InputError
from hwsim.figures import check_figures, snap_tiny
from hwsim.hardware.spec import Device, System, device_of
from hwsim.ir import Graph
from hwsim.schedule import Timeline, schedule
from hwsim.yamlio import display_path

__all__ = [
    "CALIBRATION_USES",
    "ESTIMATE_SCHEMA",
    "Estimate",
    "MemoryEstimate",
    "calibration_text",
    "calibration_use",
    "estimate",
]

ESTIMATE_SCHEMA = "hwsim.estimate/1"
CALIBRATION_USES = ("device", "kind", "relative")
_LAYER_INDEX = re.compile(r"(?<=\.)\d+(?=\.|$)|^\d+(?=\.|$)")


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryEstimate:
    peak_bytes: float
    capacity_bytes: float
    breakdown: Mapping[str, float]

    @property
    def fits(self) -> bool:
        return self.peak_bytes <= self.capacity_bytes

    @property
    def shortfall_bytes(self) -> float:
        return max(0.0, self.peak_bytes - self.capacity_bytes)


@dataclass(frozen=True, slots=True, kw_only=True)
class Estimate:
    workload: str
    mode: str
    system: str
    device: Device
    calibration: Calibration
    graph: Graph
    costs: OpCosts  # kernel costs, arrays in graph order
    timeline: Timeline  # each op's place on the device timeline, arrays in graph order
    launch_mode: str  # "sync", "async" or "graph" (hwsim.schedule)
    memory: MemoryEstimate
    model_flop: float
    hardware_flop: float
    time_breakdown_s: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    eager_overhead_s: float = 0.0  # host time per op outside the op (Python, autograd); 0 when captured
    calibration_use: str = "kind"  # CALIBRATION_USES: how the calibration relates to this device

    @property
    def step_time_s(self) -> float:
        return self.timeline.total_s

    @property
    def op_costs(self) -> OpCosts:
        """Per-op costs; `op_costs[i]` is op i's OpCost."""
        return self.costs

    @property
    def slots(self) -> Timeline:
        """Per-op timeline; `slots[i]` is op i's Slot (start, end, wait for its launch)."""
        return self.timeline

    def op_time_s(self, index: int) -> float:
        """What op `index` adds to the step: its kernel plus the wait for its launch, less the eager
        framework time before it (which belongs to no op: `framework_s`)."""
        waited = float(self.timeline.waited_s[index])
        return float(self.costs.kernel_s[index]) + waited - min(waited, self.eager_overhead_s)

    @property
    def framework_s(self) -> float:
        """Device time spent waiting on the eager framework between ops (Python, autograd), in total."""
        return float(np.minimum(self.timeline.waited_s, self.eager_overhead_s).sum())

    @property
    def tokens_per_s(self) -> float:
        return _ratio(self.graph.tokens, self.step_time_s)

    @property
    def peak_flops(self) -> float:
        return self.device.peak_flops(self.graph.dtype) or 0.0

    @property
    def mfu(self) -> float:
        return _ratio(self.model_flop, self.step_time_s * self.peak_flops)

    @property
    def hfu(self) -> float:
        return _ratio(self.hardware_flop, self.step_time_s * self.peak_flops)

    @property
    def tflops_per_device(self) -> float:
        return _ratio(self.hardware_flop, self.step_time_s) / 1e12

    @property
    def bound(self) -> str:
        by_bound = self.time_breakdown_s["bound"]
        return max(by_bound, key=by_bound.get)

    @property
    def ttft_s(self) -> float | None:
        return self.step_time_s if self.mode == "prefill" else None

    @property
    def tpot_s(self) -> float | None:
        return self.step_time_s if self.mode == "decode" else None

    @property
    def out_of_range(self) -> tuple[int, float]:
        """Ops whose size lies outside the calibration's measured points, and their share of the time."""
        outside = ~self.costs.in_range
        times = (self.costs.kernel_s + self.timeline.waited_s)[outside]
        return int(outside.sum()), _ratio(float(times.sum()), self.step_time_s)

    def to_json(self) -> dict[str, Any]:
        """The stable `hwsim.estimate/1` document (README, "Estimate JSON")."""
        n_out, share_out = self.out_of_range
        return {
            "schema": ESTIMATE_SCHEMA,
            "workload": self.workload,
            "mode": self.mode,
            "system": self.system,
            "device": self.device.name,
            "dtype": self.graph.dtype,
            "calibration": {
                "name": self.calibration.name,
                "fitted": self.calibration.fitted,
                "applies_to": self.calibration.applies_to_device or self.calibration.applies_to_kind,
                "use": self.calibration_use,
                "ops_outside_range": n_out,
                "time_share_outside_range": share_out,
                "residency": self.costs.residency_json(),
                "host_cold": self.costs.host_cold_json(),
            },
            "launch_mode": self.launch_mode,
            "eager_overhead_s": self.eager_overhead_s,
            "step_time_s": self.step_time_s,
            "tokens_per_step": self.graph.tokens,
            "tokens_per_s": self.tokens_per_s,
            "model_flop": self.model_flop,
            "hardware_flop": self.hardware_flop,
            "mfu": self.mfu,
            "hfu": self.hfu,
            "tflops_per_device": self.tflops_per_device,
            "ttft_s": self.ttft_s,
            "tpot_s": self.tpot_s,
            "params": self.graph.params,
            "memory": {
                "peak_bytes": self.memory.peak_bytes,
                "capacity_bytes": self.memory.capacity_bytes,
                "fits": self.memory.fits,
                "shortfall_bytes": self.memory.shortfall_bytes,
                "breakdown": dict(self.memory.breakdown),
            },
            "time_breakdown_s": {k: dict(v) for k, v in self.time_breakdown_s.items()},
            "bound": self.bound,
            "ops": len(self.graph.ops),
            "uncosted_ops": self.graph.uncosted(),
        }


@functools.lru_cache(maxsize=65536)
def module_of(scope: str) -> str:
    """A scope with layer indices folded: "layers.3.attn.wq" -> "layers.*.attn.wq"."""
    return _LAYER_INDEX.sub("*", scope) if scope else "(top level)"


def check_dtypes(graph: Graph, device: Device) -> None:
    """Refuse a workload whose compute dtype the device cannot run (e.g. fp8 on an A100)."""
    needed = sorted({op.dtype for op in graph.ops if op.op_class in COMPUTE_CLASSES and op.flop > 0})
    missing = [d for d in needed if not device.supports(d)]
    if missing:
        supported = ", ".join(
            d for d in ("fp64", "fp32", "tf32", "bf16", "fp16", "fp8", "int8") if device.supports(d)
        )
        raise InputError.one(
            f"workload {graph.name}",
            "task.dtype",
            f"a dtype {device.name} computes in ({supported})",
            ", ".join(f'"{d}"' for d in missing),
            f"{device.name} has no {missing[0]} units in its datasheet",
        )


def launch_mode(graph: Graph, device: Device) -> str:
    """How kernels are launched: a CPU runs its ops itself; accelerators run eagerly or captured."""
    if device.kind == "cpu":
        return "sync"
    return "graph" if graph.info.get("launch") == "graph" else "async"


def estimate(
    graph: Graph, system: System, calibration: Calibration | None = None, *, system_name: str = ""
) -> Estimate:
    """Estimate one step of `graph` on the device of `system` (a Device, or a Node/Cluster's device)."""
    device = device_of(system)
    check_dtypes(graph, device)
    calibration = calibration or default_calibration(device.name, device.kind)
    if calibration.applies_to_kind != device.kind:
        raise InputError.one(
            display_path(Path(calibration.path)),
            "applies_to.kind",
            f"a calibration for a {device.kind} (the device {device.name})",
            f'"{calibration.applies_to_kind}"',
            "a calibration applies only to devices of its kind",
        )
    # Overflow and NaN are not warned about op by op: check_figures refuses them below, by name.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _estimate(graph, device, calibration, system_name)


def _estimate(graph: Graph, device: Device, calibration: Calibration, system_name: str) -> Estimate:
    costs = Roofline(device, calibration).costs(graph.ops)
    mode = launch_mode(graph, device)
    kernel_s = costs.kernel_s
    eager = 0.0 if mode == "graph" else calibration.eager_overhead_s(graph.mode)
    host = costs.host_s if mode != "graph" else None  # a captured step has no host work per op
    timeline = schedule(kernel_s, calibration.launch_overhead + eager, mode, host_s=host)
    op_s = kernel_s + timeline.waited_s
    framework = np.minimum(timeline.waited_s, eager)
    compute_bound = costs.compute_bound
    breakdown = {
        "phase": _sum_by([op.phase for op in graph.ops], op_s),
        "op_class": _sum_by([op.op_class for op in graph.ops], op_s),
        "module": _sum_by([module_of(op.scope) for op in graph.ops], op_s),
        "bound": {
            "compute": float(kernel_s[compute_bound].sum()),
            "memory": float(kernel_s[~compute_bound].sum()),
            "overhead": float((timeline.waited_s - framework).sum()),
            "framework": float(framework.sum()),
        },
    }
    breakdown = {key: snap_tiny(by) for key, by in breakdown.items()}
    model_flop = sum(
        op.flop for op in graph.ops if op.op_class in COMPUTE_CLASSES and not op.attrs.get("recompute", False)
    )
    hardware_flop = sum(op.flop for op in graph.ops if op.op_class in COMPUTE_CLASSES)
    memory = MemoryEstimate(
        peak_bytes=graph.memory.total,
        capacity_bytes=device.memory_capacity,
        breakdown=graph.memory.breakdown(),
    )
    est = Estimate(
        workload=graph.name,
        mode=graph.mode,
        system=system_name or device.name,
        device=device,
        calibration=calibration,
        graph=graph,
        costs=costs,
        timeline=timeline,
        launch_mode=mode,
        memory=memory,
        model_flop=model_flop,
        hardware_flop=hardware_flop,
        time_breakdown_s=breakdown,
        eager_overhead_s=eager,
        calibration_use=calibration_use(calibration, device),
    )
    check_figures(est.to_json(), f"the estimate of {graph.name} on {est.system}")
    return est


def calibration_use(calibration: Calibration, device: Device) -> str:
    """How `calibration` applies to `device` (CALIBRATION_USES): "device" when fitted on or written for
    this device; "kind" when written for any device of its kind (the shipped defaults); "relative"
    when fitted on another device of the same kind, whose efficiencies (fractions of that device's
    roofs, at sizes measured in ideal time) are applied as fractions of this device's roofs."""
    if calibration.applies_to_device is None:
        return "kind"
    return "device" if calibration.applies_to_device == device.name else "relative"


def calibration_text(est: Estimate) -> str:
    """One line saying which calibration an estimate used and how it applies to the device."""
    cal = est.calibration
    origin = "fitted" if cal.fitted else "published defaults"
    if est.calibration_use == "device":
        return f"{cal.name} ({origin}, for {est.device.name})"
    if est.calibration_use == "kind":
        return f"{cal.name} ({origin}, for any {cal.applies_to_kind})"
    return (
        f"{cal.name} ({origin} on {cal.applies_to_device}, applied to {est.device.name} "
        "as relative efficiency: fractions of its roofs)"
    )


def _ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, NaN when the denominator is zero (the output contract then names it)."""
    return numerator / denominator if denominator else float("nan")


def _sum_by(labels: list[str], values: np.ndarray) -> dict[str, float]:
    """Sum of `values` per label, labels in order of first appearance."""
    codes: dict[str, int] = {}
    index = np.fromiter(
        (codes.setdefault(label, len(codes)) for label in labels), dtype=np.int64, count=len(labels)
    )
    sums = np.bincount(index, weights=values, minlength=len(codes))
    return {label: float(sums[code]) for label, code in codes.items()}
