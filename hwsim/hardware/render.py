"""Write a resolved System back as a YAML-shaped mapping of unit strings, for `hwsim hw show --resolved`.

The mapping follows the input key layout (hwsim.hardware.parse), with `extends:` merged in, a node's
device and a cluster's node written out in full, and every quantity formatted by
hwsim.units.format_quantity. A resolved device is itself a valid device file.
"""

from __future__ import annotations

from typing import Any

import yaml

from hwsim.hardware.spec import Cluster, Device, NetworkLevel, Node, System
from hwsim.units import format_quantity

__all__ = ["dump_yaml", "quantity_text", "resolved"]

_DIGITS = 6  # enough significant digits that no catalogue figure is rounded ("494.5 TFLOP/s")
_BINARY_STEP = 2**20  # sizes that are whole MiB and not whole MB were written in binary units
_FLOW_WIDTH = 100  # a mapping or list of plain values shorter than this is written on one line


class _Dumper(yaml.SafeDumper):
    """Writes short collections of plain values on one line ({capacity: 80 GB, ...}), the rest as blocks."""


def _short(values: list[Any]) -> bool:
    plain = all(not isinstance(v, (dict, list)) for v in values)
    return plain and sum(len(str(v)) + 2 for v in values) < _FLOW_WIDTH


def _represent_dict(dumper: yaml.SafeDumper, data: dict[str, Any]) -> yaml.Node:
    flow = _short([*data.keys(), *data.values()])
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flow)


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=_short(data))


_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(list, _represent_list)


def dump_yaml(data: dict[str, Any]) -> str:
    """YAML text for a resolved mapping, keys in their given order."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=1000, allow_unicode=True)


def quantity_text(value: float, kind: str, *, digits: int = _DIGITS) -> str:
    """`value` with its unit; byte sizes written in MiB/GiB when that is how they were given."""
    binary = kind == "bytes" and value % _BINARY_STEP == 0 and value % 10**6 != 0
    return format_quantity(value, kind, binary=binary, digits=digits)


def _rates(rates: Any) -> dict[str, str]:
    return {dtype: quantity_text(rate, "flop_rate") for dtype, rate in rates.items()}


def _device(device: Device) -> dict[str, Any]:
    out: dict[str, Any] = {
        "schema": "hwsim.device/1",
        "description": device.description,
        "kind": device.kind,
        "vendor": device.vendor,
        "measured": device.measured,
        "compute": {},
        "memory": {
            "capacity": quantity_text(device.memory_capacity, "bytes"),
            "bandwidth": quantity_text(device.memory_bandwidth, "byte_rate"),
        },
    }
    if device.matrix_flops:
        out["compute"]["matrix"] = _rates(device.matrix_flops)
    if device.vector_flops:
        out["compute"]["vector"] = _rates(device.vector_flops)
    if device.sram is not None:
        out["sram"] = quantity_text(device.sram, "bytes")
    if device.tdp is not None:
        out["tdp"] = quantity_text(device.tdp, "power")
    links = {
        key: quantity_text(value, "byte_rate")
        for key, value in (("scale_up", device.scale_up_bandwidth), ("scale_out", device.scale_out_bandwidth))
        if value is not None
    }
    if links:
        out["interconnect"] = links
    out["sources"] = list(device.sources)
    return out


def _level(level: NetworkLevel) -> dict[str, Any]:
    out: dict[str, Any] = {"name": level.name, "topology": level.topology, "size": level.size}
    if level.dims:
        out["dims"] = list(level.dims)
    out["bandwidth"] = quantity_text(level.bandwidth, "byte_rate")
    if level.latency is not None:
        out["latency"] = quantity_text(level.latency, "time")
    if level.oversubscription != 1.0:
        out["oversubscription"] = level.oversubscription
    return out


def _node(node: Node) -> dict[str, Any]:
    out: dict[str, Any] = {
        "schema": "hwsim.node/1",
        "description": node.description,
        "count": node.count,
        "device": {"name": node.device.name, **_device(node.device)},
        "scale_up": _level(node.scale_up),
    }
    if node.scale_out is not None:
        out["scale_out"] = _level(node.scale_out)
    out["sources"] = list(node.sources)
    return out


def _cluster(cluster: Cluster) -> dict[str, Any]:
    return {
        "schema": "hwsim.cluster/1",
        "description": cluster.description,
        "node_count": cluster.node_count,
        "devices": cluster.node_count * cluster.node.count,
        "node": {"name": cluster.node.name, **_node(cluster.node)},
        "levels": [_level(level) for level in cluster.levels],
        "sources": list(cluster.sources),
    }


def resolved(system: System) -> dict[str, Any]:
    """`system` as a mapping of plain values and unit strings (bandwidths per device, per direction)."""
    if isinstance(system, Device):
        return _device(system)
    if isinstance(system, Node):
        return _node(system)
    return _cluster(system)
