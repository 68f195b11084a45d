"""Turn merged hardware YAML mappings into spec dataclasses, collecting every problem of a file.

The key layout (hardware_configs/devices/h100_sxm.yaml, nodes/dgx_h100.yaml and clusters/
dgx_h100_superpod.yaml are worked examples):

    device:  description, kind, vendor, abstract, measured, compute.{matrix,vector}.<dtype>,
             memory.{capacity,bandwidth}, sram, tdp, interconnect.{scale_up,scale_out}, sources
    node:    description, device, count, scale_up.{name,topology,dims,bandwidth,latency},
             scale_out.{name,nics,nic_bandwidth | bandwidth,latency}, sources
    cluster: description, node, node_count,
             levels[i].{name,topology,dims,size,bandwidth,latency,oversubscription}, sources

Every bandwidth is per device, per direction. Files are found and merged by hwsim.hardware.loader;
this module only reads values (through hwsim.yamlio.FieldReader) and checks how they fit together.
"""

from __future__ import annotations

import math
from typing import Any

from hwsim.errors import Problems, did_you_mean, shown
from hwsim.hardware.spec import DEVICE_KINDS, DTYPES, TOPOLOGIES, Device, FrozenMap, NetworkLevel
from hwsim.yamlio import FieldReader

__all__ = ["read_device", "read_level", "read_scale_out", "read_sources"]


def read_sources(top: FieldReader) -> tuple[str, ...]:
    """The file's own `sources:` (a non-empty list); the loader never lets a child inherit them."""
    sources = top.strings("sources")
    if top.data.get("sources") == []:
        top.problems.add(
            top.key("sources"),
            "a non-empty list of sources for the figures",
            "an empty list",
            "name the datasheet, paper or measurement each number comes from",
        )
    return sources


def _rates(reader: FieldReader) -> dict[str, float]:
    rates: dict[str, float] = {}
    for dtype, _ in list(reader.items()):
        if dtype not in DTYPES:
            reader.problems.add(
                reader.key(dtype),
                "a data type (" + ", ".join(DTYPES) + ")",
                shown(dtype),
                did_you_mean(dtype, DTYPES),
            )
            continue
        rate = reader.quantity(dtype, "flop_rate")
        if rate is not None:
            rates[dtype] = rate
    reader.finish()
    return rates


def read_device(data: dict[str, Any], problems: Problems, *, name: str, path: str) -> Device | None:
    """The Device described by `data`, or None for an abstract template or when a problem was found."""
    top = FieldReader(data, problems)
    top.has("schema")
    abstract = top.boolean("abstract", default=False)
    concrete = not abstract
    description = top.string("description", required=False, default="")
    kind = top.string("kind", choices=DEVICE_KINDS)
    vendor = top.string("vendor", required=concrete)
    measured = top.boolean("measured", default=False)
    if "name" in top.data:
        top.has("name")
        problems.add(
            "name",
            "no name key (a device is named by its file stem)",
            shown(top.data["name"]),
            "write the display name under description",
        )

    matrix: dict[str, float] = {}
    vector: dict[str, float] = {}
    if top.has("compute") or concrete:
        compute = top.mapping("compute")
        matrix = _rates(compute.mapping("matrix", required=False))
        vector = _rates(compute.mapping("vector", required=False))
        compute.finish()
        given = compute.data.get("matrix") or compute.data.get("vector")
        if concrete and "compute" in top.data and not given:
            problems.add(
                "compute",
                "at least one peak rate under compute.matrix or compute.vector",
                "nothing",
                'e.g. "matrix: {bf16: 989 TFLOP/s}"',
            )

    capacity = bandwidth = None
    if top.has("memory") or concrete:
        memory = top.mapping("memory")
        if "memory" in top.data or not concrete:
            capacity = memory.quantity("capacity", "bytes", required=concrete)
            bandwidth = memory.quantity("bandwidth", "byte_rate", required=concrete)
        memory.finish()

    sram = top.quantity("sram", "bytes", required=False)
    tdp = top.quantity("tdp", "power", required=False)
    links = top.mapping("interconnect", required=False)
    scale_up = links.quantity("scale_up", "byte_rate", required=False)
    scale_out = links.quantity("scale_out", "byte_rate", required=False)
    links.finish()
    sources = read_sources(top)
    top.finish()
    if abstract or problems.found or capacity is None or bandwidth is None:
        return None
    return Device(
        name=name,
        kind=kind or "",
        vendor=vendor or "",
        description=description or name,
        matrix_flops=FrozenMap(matrix),
        vector_flops=FrozenMap(vector),
        memory_capacity=capacity,
        memory_bandwidth=bandwidth,
        sram=sram,
        tdp=tdp,
        scale_up_bandwidth=scale_up,
        scale_out_bandwidth=scale_out,
        measured=measured,
        sources=sources,
        path=path,
    )


def _written(value: Any) -> str:
    """A received list is short enough to show as written ([2, 2, 2]); anything else as errors.shown does."""
    return str(value) if isinstance(value, list) else shown(value)


def _dims(reader: FieldReader, topology: str | None) -> tuple[int, ...]:
    if not reader.has("dims"):
        if topology == "torus":
            reader.problems.add(
                reader.key("dims"),
                "the torus shape, a list of whole numbers like [16, 16, 24]",
                "nothing",
                "a torus needs its dims",
            )
        return ()
    value = reader.data["dims"]
    if topology != "torus":
        reader.problems.add(
            reader.key("dims"), f"no dims for a {topology} topology", _written(value), "only a torus has dims"
        )
        return ()
    ok = isinstance(value, list) and value and all(type(d) is int and d >= 1 for d in value)
    if not ok:
        reader.problems.add(
            reader.key("dims"), "the torus shape, a list of whole numbers like [16, 16, 24]", _written(value)
        )
        return ()
    return tuple(value)


def read_level(
    reader: FieldReader,
    *,
    default_name: str,
    size: int | None,
    default_size: int | None = None,
    default_bandwidth: float | None = None,
    bandwidth_hint: str = "",
    need_bandwidth: bool = True,
) -> NetworkLevel | None:
    """One network level. `size` fixes the level's size (a node's scale-up spans its devices), so the
    file may not give one; otherwise the file's `size` is used, else the torus dims, else `default_size`.
    A missing bandwidth falls back to `default_bandwidth`; `need_bandwidth=False` stays silent when
    there is none (the file that should have given it already has a problem reported).
    """
    start = len(reader.problems.found)
    name = reader.string("name", required=False, default=default_name)
    topology = reader.string("topology", choices=TOPOLOGIES, default=None if size is None else "switch")
    dims = _dims(reader, topology)
    if size is None:
        given = reader.integer("size", required=False)
        size = given or (math.prod(dims) if dims else default_size)
        if size is None:
            reader.problems.add(
                reader.key("size"),
                "a whole number >= 1 of devices this level reaches",
                "nothing",
                "required for every level but the last",
            )
    if dims and size is not None and math.prod(dims) != size:
        reader.problems.add(
            reader.key("dims"),
            f"a torus shape whose product is the level's size {size}",
            f"{list(dims)} (product {math.prod(dims)})",
        )
    bandwidth = reader.quantity("bandwidth", "byte_rate", required=False)
    if bandwidth is None and "bandwidth" not in reader.data:
        bandwidth = default_bandwidth
        if bandwidth is None and need_bandwidth:
            reader.problems.add(
                reader.key("bandwidth"),
                'a byte rate like "3.35 TB/s" per device, per direction',
                "nothing",
                bandwidth_hint or "this key is required",
            )
    latency = reader.quantity("latency", "time", required=False)
    oversubscription = reader.number("oversubscription", required=False, low=1.0, default=1.0)
    reader.finish()
    if len(reader.problems.found) > start or size is None or bandwidth is None:
        return None
    return NetworkLevel(
        name=name or default_name,
        size=size,
        topology=topology or "switch",
        dims=dims,
        bandwidth=bandwidth,
        latency=latency,
        oversubscription=oversubscription or 1.0,
    )


def read_scale_out(reader: FieldReader, *, count: int | None) -> NetworkLevel | None:
    """A node's NICs: `nics` x `nic_bandwidth` shared by its `count` devices, or `bandwidth` per device."""
    start = len(reader.problems.found)
    name = reader.string("name", required=False, default="scale_out")
    has_nics = reader.has("nics") or reader.has("nic_bandwidth")
    nics = reader.integer("nics", required=has_nics)
    nic_bandwidth = reader.quantity("nic_bandwidth", "byte_rate", required=has_nics)
    bandwidth = reader.quantity("bandwidth", "byte_rate", required=not has_nics)
    if has_nics and "bandwidth" in reader.data:
        reader.problems.add(
            reader.key("bandwidth"),
            "either bandwidth (per device) or nics and nic_bandwidth",
            "both",
            "give one of them",
        )
    latency = reader.quantity("latency", "time", required=False)
    reader.finish()
    if len(reader.problems.found) > start or count is None:
        return None
    if has_nics and nics is not None and nic_bandwidth is not None:
        # The node's NICs are shared evenly by its devices: per device = NICs x rate per NIC / devices.
        bandwidth = nics * nic_bandwidth / count
    if bandwidth is None:
        return None
    return NetworkLevel(
        name=name or "scale_out", size=count, topology="switch", bandwidth=bandwidth, latency=latency
    )
