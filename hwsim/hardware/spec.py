"""Hardware as resolved SI facts: Device, NetworkLevel, Node, Cluster (the `System` a workload runs on).

Every quantity is a float in SI base units: FLOP/s, B, B/s, s, W. Bandwidths are per device, per
direction. A System never holds a fitted factor (those live in calibrations); it holds what a
datasheet (or, for `measured` devices, a measurement on a host) says. hwsim.hardware.loader builds
these from YAML; nothing here reads files.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

__all__ = [
    "DEVICE_KINDS",
    "DTYPES",
    "TOPOLOGIES",
    "Cluster",
    "Device",
    "FrozenMap",
    "NetworkLevel",
    "Node",
    "System",
    "canonical_dtype",
    "device_count",
    "device_of",
    "network_levels",
]

DEVICE_KINDS: tuple[str, ...] = ("gpu", "tpu", "accelerator", "cpu")
# Compute data types a device may quote a peak for, as YAML, hwsim.ir and reports name them.
DTYPES: tuple[str, ...] = ("fp64", "fp32", "tf32", "bf16", "fp16", "fp8", "fp4", "int8")
TOPOLOGIES: tuple[str, ...] = ("switch", "fat_tree", "torus", "ring", "mesh")

# Other spellings of the same dtypes (torch names, long names), so callers may pass either.
_DTYPE_ALIASES = {
    "float64": "fp64", "double": "fp64",
    "float32": "fp32", "float": "fp32",
    "tensorfloat32": "tf32",
    "bfloat16": "bf16",
    "float16": "fp16", "half": "fp16",
    "float8": "fp8", "float8_e4m3fn": "fp8", "float8_e5m2": "fp8", "float8_e4m3fnuz": "fp8",
    "float8_e5m2fnuz": "fp8",
    "float4": "fp4", "float4_e2m1fn_x2": "fp4",
}  # fmt: skip


def canonical_dtype(dtype: str) -> str:
    """The catalogue's name for a dtype: "torch.bfloat16" and "bfloat16" are "bf16"; others pass through."""
    name = str(dtype).removeprefix("torch.").lower()
    return _DTYPE_ALIASES.get(name, name)


class FrozenMap(Mapping[str, float]):
    """A read-only, hashable mapping (dtype -> FLOP/s), so that the dataclasses holding it stay frozen."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, float] | None = None) -> None:
        self._data: dict[str, float] = dict(data or {})

    def __getitem__(self, key: str) -> float:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self._data) == dict(other)

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Device:
    """One accelerator or CPU: peak rates per dtype, memory, and its own links.

    `name` is the file stem ("h100_sxm"); `description` the display name ("NVIDIA H100 SXM 80GB").
    `matrix_flops` are dense (no sparsity) tensor/matrix-unit rates; `vector_flops` the rates of the
    non-tensor units (e.g. fp32 on NVIDIA CUDA cores). `sram` is the last on-chip level before HBM
    (L2, Infinity Cache, on-chip SRAM). `measured` is True when the peaks were measured on a host
    rather than read from a datasheet.
    """

    name: str
    kind: str
    vendor: str
    description: str
    matrix_flops: Mapping[str, float] = field(default_factory=FrozenMap)
    vector_flops: Mapping[str, float] = field(default_factory=FrozenMap)
    memory_capacity: float
    memory_bandwidth: float
    sram: float | None = None
    tdp: float | None = None
    scale_up_bandwidth: float | None = None
    scale_out_bandwidth: float | None = None
    measured: bool = False
    sources: tuple[str, ...] = ()
    path: str = ""

    def __post_init__(self) -> None:
        # Keep the dataclass truly frozen (and hashable) whatever mapping the caller passed.
        for name in ("matrix_flops", "vector_flops"):
            value = getattr(self, name)
            if not isinstance(value, FrozenMap):
                object.__setattr__(self, name, FrozenMap(value))

    def peak_flops(self, dtype: str) -> float | None:
        """Peak FLOP/s for `dtype`: the matrix-unit rate, else the vector rate, else None."""
        name = canonical_dtype(dtype)
        rate = self.matrix_flops.get(name)
        return rate if rate is not None else self.vector_flops.get(name)

    def supports(self, dtype: str) -> bool:
        """Whether the device has a sourced compute rate for `dtype`."""
        return self.peak_flops(dtype) is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkLevel:
    """One level of the network: `size` devices reach each other at `bandwidth` B/s per device per direction.

    `dims` is the torus shape (its product is `size`) and () for other topologies. `latency` is the
    one-way latency of a small message at this level, or None when no source gives one (it is never
    guessed). `oversubscription` is the fat-tree taper (1.0 = full bisection).
    """

    name: str
    size: int
    topology: str
    dims: tuple[int, ...] = ()
    bandwidth: float
    latency: float | None = None
    oversubscription: float = 1.0

    def __post_init__(self) -> None:
        if self.dims and math.prod(self.dims) != self.size:
            raise ValueError(f"torus dims {self.dims} do not multiply to size {self.size}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """`count` identical devices in one host, joined by `scale_up`; `scale_out` is the node's NICs.

    `scale_out.bandwidth` is the NIC bandwidth per device per direction (8x 400 Gb/s NICs for 8 GPUs
    is 50 GB/s each); None when no source gives the node's NICs.
    """

    name: str
    description: str = ""
    device: Device
    count: int
    scale_up: NetworkLevel
    scale_out: NetworkLevel | None = None
    sources: tuple[str, ...] = ()
    path: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Cluster:
    """`node_count` nodes joined by `levels` (inner to outer, beyond the node); the last spans all devices."""

    name: str
    description: str = ""
    node: Node
    node_count: int
    levels: tuple[NetworkLevel, ...]
    sources: tuple[str, ...] = ()
    path: str = ""


System = Device | Node | Cluster


def device_of(system: System) -> Device:
    """The device every part of `system` is made of."""
    if isinstance(system, Device):
        return system
    if isinstance(system, Node):
        return system.device
    return system.node.device


def device_count(system: System) -> int:
    """How many devices `system` has: 1, a node's count, or nodes x devices per node."""
    if isinstance(system, Device):
        return 1
    if isinstance(system, Node):
        return system.count
    return system.node_count * system.node.count


def network_levels(system: System) -> tuple[NetworkLevel, ...]:
    """Every level devices talk over, inner to outer: the node's scale-up, then the cluster's levels.

    A node's `scale_out` (its NICs) is not a level of its own: a cluster level says where they lead.
    """
    if isinstance(system, Device):
        return ()
    if isinstance(system, Node):
        return (system.scale_up,)
    return (system.node.scale_up, *system.levels)
