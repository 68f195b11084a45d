"""hwsim.hardware: spec dataclasses, the loader with `extends`, and the shipped catalogue."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from hwsim.errors import InputError
from hwsim.hardware.loader import check_file, list_catalogue, load_device, load_system
from hwsim.hardware.render import dump_yaml, resolved
from hwsim.hardware.spec import (
    Cluster,
    Device,
    NetworkLevel,
    Node,
    canonical_dtype,
    device_count,
    device_of,
    network_levels,
)
from hwsim.resources import catalogue_dir

Write = Callable[[str, str], Path]

BASE = """\
schema: hwsim.device/1
description: Base GPU
kind: gpu
vendor: Acme
compute:
  matrix: {bf16: 100 TFLOP/s, fp8: 200 TFLOP/s}
  vector: {fp32: 10 TFLOP/s}
memory: {capacity: 80 GB, bandwidth: 2 TB/s}
sram: 40 MiB
interconnect: {scale_up: 300 GB/s}
sources: [base datasheet]
"""

# --- the catalogue ----------------------------------------------------------------------------------


ENTRIES = list_catalogue()


def test_catalogue_has_every_kind_and_the_promised_files() -> None:
    names = {(e.kind, e.name) for e in ENTRIES}
    for device in (
        "a100_40gb_sxm",
        "a100_80gb_sxm",
        "h100_sxm",
        "h100_pcie",
        "h200_sxm",
        "b200",
        "mi250x",
        "mi300x",
        "mi325x",
        "tpu_v4",
        "tpu_v5e",
        "tpu_v5p",
        "tpu_v6e",
        "gaudi2",
        "gaudi3",
        "cpu_host",
    ):
        assert ("device", device) in names
    for node in ("dgx_a100", "dgx_h100", "dgx_h200", "dgx_b200", "mi300x_node"):
        assert ("node", node) in names
    for cluster in ("dgx_a100_superpod", "dgx_h100_superpod", "gb200_nvl72", "tpu_v5p_slice"):
        assert ("cluster", cluster) in names


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_every_catalogue_file_has_sources_and_passes_check(entry) -> None:
    raw = yaml.safe_load(entry.path.read_text(encoding="utf-8"))
    assert raw["schema"] == f"hwsim.{entry.kind}/1"
    assert raw["sources"] and all(isinstance(s, str) and s.strip() for s in raw["sources"])
    assert entry.path.stem in check_file(entry.path)


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.name != "cpu_host"], ids=lambda e: e.name)
def test_every_concrete_catalogue_file_loads(entry) -> None:
    system = load_system(entry.name)
    assert system.name == entry.name
    device = device_of(system)
    assert device.memory_capacity > 0 and device.memory_bandwidth > 0
    assert device.matrix_flops or device.vector_flops
    assert device_count(system) >= 1


def test_every_file_under_hardware_configs_is_listed() -> None:
    on_disk = {
        p.resolve()
        for folder in ("devices", "nodes", "clusters")
        for p in (catalogue_dir() / folder).rglob("*.yaml")
    }
    assert on_disk == {e.path.resolve() for e in ENTRIES}


def test_h100_figures_are_the_datasheets() -> None:
    h100 = load_system("h100_sxm")
    assert isinstance(h100, Device)
    assert h100.name == "h100_sxm" and h100.description == "NVIDIA H100 SXM 80GB"
    assert h100.kind == "gpu" and h100.vendor == "NVIDIA" and not h100.measured
    assert h100.matrix_flops["bf16"] == pytest.approx(989e12)
    assert h100.peak_flops("fp32") == pytest.approx(67e12)  # from the vector units
    assert h100.memory_capacity == 80e9 and h100.memory_bandwidth == pytest.approx(3.35e12)
    assert h100.sram == 50 * 2**20 and h100.tdp == 700
    assert h100.scale_up_bandwidth == 450e9 and h100.scale_out_bandwidth is None


def test_tpu_v5p_gives_bidirectional_ici_as_per_direction() -> None:
    tpu = load_system("tpu_v5p")
    assert isinstance(tpu, Device)
    assert tpu.scale_up_bandwidth == 600e9 and tpu.scale_out_bandwidth == 50e9 / 8
    assert tpu.memory_capacity == 95 * 2**30


def test_dgx_h100_node() -> None:
    node = load_system("dgx_h100")
    assert isinstance(node, Node)
    assert node.device.name == "h100_sxm" and node.count == 8
    assert node.scale_up == NetworkLevel(name="nvlink4_nvswitch", size=8, topology="switch", bandwidth=450e9)
    assert node.scale_out is not None and node.scale_out.bandwidth == pytest.approx(50e9)  # 8 x 400 Gb/s / 8


def test_dgx_h200_extends_dgx_h100_with_its_own_device_and_sources() -> None:
    h100, h200 = load_system("dgx_h100"), load_system("dgx_h200")
    assert isinstance(h200, Node) and isinstance(h100, Node)
    assert h200.device.name == "h200_sxm" and h200.count == 8
    assert h200.scale_up == h100.scale_up and h200.scale_out == h100.scale_out
    assert h200.sources != h100.sources


def test_clusters() -> None:
    pod = load_system("dgx_h100_superpod")
    assert isinstance(pod, Cluster)
    assert device_count(pod) == 1016 and pod.levels[-1].size == 1016 and pod.levels[-1].topology == "fat_tree"
    assert pod.levels[-1].bandwidth == pytest.approx(50e9) and pod.levels[-1].latency is None
    nvl72 = load_system("gb200_nvl72")
    assert device_count(nvl72) == 72 and [lv.size for lv in network_levels(nvl72)] == [4, 72]
    assert {lv.bandwidth for lv in network_levels(nvl72)} == {900e9}
    tpu = load_system("tpu_v5p_slice")
    assert isinstance(tpu, Cluster)
    assert tpu.levels[0].dims == (16, 16, 24) and device_count(tpu) == 6144
    assert tpu.node.scale_up.dims == (2, 2, 1)


# --- spec -------------------------------------------------------------------------------------------


def _device(**over) -> Device:
    fields = dict(
        name="g",
        kind="gpu",
        vendor="V",
        description="G",
        matrix_flops={"bf16": 1e15},
        vector_flops={"fp32": 1e14},
        memory_capacity=8e10,
        memory_bandwidth=3e12,
    )
    return Device(**(fields | over))


def test_peak_flops_prefers_matrix_and_knows_dtype_aliases() -> None:
    d = _device(matrix_flops={"bf16": 1e15, "fp32": 5e14})
    assert d.peak_flops("fp32") == 5e14  # matrix before vector
    assert d.peak_flops("torch.bfloat16") == d.peak_flops("bfloat16") == 1e15
    assert d.supports("bf16") and not d.supports("fp8") and d.peak_flops("fp8") is None
    assert canonical_dtype("float8_e4m3fn") == "fp8" and canonical_dtype("int8") == "int8"


def test_device_is_frozen_and_hashable() -> None:
    d = _device()
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.kind = "tpu"  # type: ignore[misc]
    with pytest.raises(TypeError):
        d.matrix_flops["bf16"] = 1.0  # type: ignore[index]
    assert hash(d) == hash(_device()) and d == _device()


def test_device_of_and_device_count() -> None:
    d = _device()
    up = NetworkLevel(name="nvlink", size=8, topology="switch", bandwidth=4.5e11)
    node = Node(name="n", device=d, count=8, scale_up=up)
    fabric = NetworkLevel(name="ib", size=64, topology="fat_tree", bandwidth=5e10)
    cluster = Cluster(name="c", node=node, node_count=8, levels=(fabric,))
    assert device_of(d) is d and device_of(node) is d and device_of(cluster) is d
    assert (device_count(d), device_count(node), device_count(cluster)) == (1, 8, 64)
    assert (
        network_levels(d) == () and network_levels(node) == (up,) and network_levels(cluster) == (up, fabric)
    )


def test_torus_dims_must_multiply_to_size() -> None:
    with pytest.raises(ValueError):
        NetworkLevel(name="ici", size=8, topology="torus", dims=(2, 2), bandwidth=1.0)


# --- extends ----------------------------------------------------------------------------------------


def test_extends_merges_maps_and_replaces_lists_and_scalars(write_yaml: Write) -> None:
    write_yaml("base.yaml", BASE)
    child = write_yaml(
        "child.yaml",
        """\
        schema: hwsim.device/1
        extends: base
        description: Child GPU
        compute: {matrix: {bf16: 150 TFLOP/s}}
        memory: {capacity: 141 GB}
        sources: [child datasheet]
        """,
    )
    d = load_device(child)
    assert d.name == "child" and d.description == "Child GPU"
    assert dict(d.matrix_flops) == {"bf16": 150e12, "fp8": 200e12}  # maps merge key by key
    assert dict(d.vector_flops) == {"fp32": 10e12}
    assert d.memory_capacity == 141e9 and d.memory_bandwidth == 2e12
    assert d.sources == ("child datasheet",)  # lists replace
    assert d.sram == 40 * 2**20 and d.scale_up_bandwidth == 300e9


def test_extends_by_relative_path_and_from_the_catalogue(write_yaml: Write) -> None:
    write_yaml("parents/base.yaml", BASE)
    by_path = write_yaml("a.yaml", "schema: hwsim.device/1\nextends: parents/base.yaml\nsources: [a]\n")
    assert load_device(by_path).memory_capacity == 80e9
    by_stem = write_yaml("b.yaml", "schema: hwsim.device/1\nextends: h100_sxm\ntdp: 500 W\nsources: [b]\n")
    b = load_device(by_stem)
    assert b.tdp == 500 and b.memory_bandwidth == pytest.approx(3.35e12)


def test_measured_host_extends_the_cpu_template(write_yaml: Write) -> None:
    host = write_yaml(
        "my_host.yaml",
        """\
        schema: hwsim.device/1
        extends: cpu_host
        description: Test host (measured)
        vendor: Acme
        measured: true
        compute: {vector: {fp32: 1.5 TFLOP/s}}
        memory: {capacity: 64 GiB, bandwidth: 40 GB/s}
        sources: [measured on the test host]
        """,
    )
    d = load_system(str(host))
    assert isinstance(d, Device)
    assert d.kind == "cpu" and d.measured and d.peak_flops("fp32") == 1.5e12 and not d.supports("bf16")
    assert d.memory_capacity == 64 * 2**30
    assert "template" in check_file(catalogue_dir() / "devices" / "cpu_host.yaml")


def test_child_of_a_template_missing_peaks_is_reported(write_yaml: Write) -> None:
    host = write_yaml("host.yaml", "schema: hwsim.device/1\nextends: cpu_host\nvendor: X\nsources: [m]\n")
    with pytest.raises(InputError) as info:
        load_device(host)
    assert [p.key for p in info.value.problems] == ["compute", "memory"]


def test_node_finds_its_device_beside_it_or_in_a_sibling_devices_folder(write_yaml: Write) -> None:
    write_yaml("hw/devices/mygpu.yaml", BASE)
    node = write_yaml(
        "hw/nodes/box.yaml",
        """\
        schema: hwsim.node/1
        device: mygpu
        count: 4
        scale_up: {topology: ring}
        scale_out: {bandwidth: 100 Gb/s, latency: 2 us}
        sources: [x]
        """,
    )
    n = load_system(str(node))
    assert isinstance(n, Node)
    assert n.device.name == "mygpu" and n.scale_up.bandwidth == 300e9  # from the device's interconnect
    assert n.scale_up.topology == "ring" and n.scale_out is not None
    assert n.scale_out.bandwidth == 12.5e9 and n.scale_out.latency == pytest.approx(2e-6)


def test_multi_level_cluster(write_yaml: Write) -> None:
    path = write_yaml(
        "c.yaml",
        """\
        schema: hwsim.cluster/1
        node: dgx_h100
        node_count: 64
        levels:
          - {name: leaf, topology: switch, size: 256, bandwidth: 400 Gb/s, latency: 1 us}
          - {name: spine, topology: fat_tree, bandwidth: 400 Gb/s, oversubscription: 2}
        sources: [x]
        """,
    )
    c = load_system(str(path))
    assert isinstance(c, Cluster)
    assert [lv.size for lv in c.levels] == [256, 512] and c.levels[1].oversubscription == 2.0
    assert c.levels[0].latency == pytest.approx(1e-6)


def test_resolved_device_is_itself_a_valid_device_file(write_yaml: Write) -> None:
    for name in ("h100_sxm", "tpu_v5p", "mi300x", "gb200"):
        original = load_system(name)
        path = write_yaml(f"{name}.yaml", dump_yaml(resolved(original)))
        again = load_device(path)
        assert dataclasses.replace(again, path=original.path) == original
