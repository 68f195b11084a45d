"""Hardware systems described in YAML: spec dataclasses (spec), the loader with `extends` (loader)."""

from hwsim.hardware.loader import list_catalogue, load_cluster, load_device, load_node, load_system
from hwsim.hardware.spec import (
    Cluster,
    Device,
    NetworkLevel,
    Node,
    System,
    device_count,
    device_of,
    network_levels,
)

__all__ = [
    "Cluster",
    "Device",
    "NetworkLevel",
    "Node",
    "System",
    "device_count",
    "device_of",
    "list_catalogue",
    "load_cluster",
    "load_device",
    "load_node",
    "load_system",
    "network_levels",
]
