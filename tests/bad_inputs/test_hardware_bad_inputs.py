"""One broken hardware file per error message: each test states the exact line the user sees."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hwsim.errors import InputError
from hwsim.hardware.loader import check_file, load_device, load_system

Write = Callable[[str, str], Path]

DEVICE = """\
schema: hwsim.device/1
description: Test GPU
kind: gpu
vendor: Acme
compute:
  matrix: {bf16: 100 TFLOP/s}
memory: {capacity: 80 GB, bandwidth: 2 TB/s}
sources: [a datasheet]
"""


def lines(path: Path | str, loader: Callable[[Path], object] = check_file) -> list[str]:
    with pytest.raises(InputError) as info:
        loader(Path(path))
    return str(info.value).splitlines()


def test_malformed_yaml_names_the_line(write_yaml: Write) -> None:
    path = write_yaml("bad.yaml", "schema: hwsim.device/1\nkind: gpu\n  vendor: Acme\n")
    assert lines(path) == [
        'bad.yaml: line 3: expected valid YAML, got "mapping values are not allowed here" '
        "(check indentation and quoting)"
    ]


def test_bare_number_where_a_unit_is_needed(write_yaml: Write) -> None:
    path = write_yaml("bad.yaml", DEVICE.replace("bandwidth: 2 TB/s", "bandwidth: 3350"))
    assert lines(path) == [
        'bad.yaml: memory.bandwidth: expected a byte rate like "3.35 TB/s", got 3350 '
        "(a bare number has no unit)"
    ]


def test_unknown_unit(write_yaml: Write) -> None:
    path = write_yaml("bad.yaml", DEVICE.replace("2 TB/s", "2 TB/sec"))
    assert lines(path) == [
        'bad.yaml: memory.bandwidth: expected a byte rate like "3.35 TB/s", got "2 TB/sec" '
        '(unknown unit "TB/sec"; a byte rate uses B/s, b/s with a prefix)'
    ]


def test_bits_where_bytes_are_needed(write_yaml: Write) -> None:
    path = write_yaml("bad.yaml", DEVICE.replace("capacity: 80 GB", "capacity: 80 Gb"))
    assert lines(path) == [
        'bad.yaml: memory.capacity: expected a size in bytes like "80 GiB", got "80 Gb" '
        '("Gb" is bits; a size in bytes is written with B, e.g. "80 GB" or "80 GiB")'
    ]


@pytest.mark.parametrize("value", ["0 GB", "-80 GB"])
def test_zero_or_negative_capacity(write_yaml: Write, value: str) -> None:
    path = write_yaml("bad.yaml", DEVICE.replace("80 GB", value))
    assert lines(path) == [
        f'bad.yaml: memory.capacity: expected a positive size in bytes like "80 GiB", got "{value}" '
        "(it must be above zero)"
    ]


def test_unknown_key_gets_a_suggestion(write_yaml: Write) -> None:
    path = write_yaml("bad.yaml", DEVICE + "tdpp: 700 W\n")
    assert lines(path) == ['bad.yaml: tdpp: expected a known key, got "tdpp" (did you mean "tdp"?)']


def test_unknown_nested_key_gets_a_suggestion(write_yaml: Write) -> None:
    path = write_yaml("bad.yaml", DEVICE.replace("bandwidth: 2 TB/s", "bandwidth: 2 TB/s, capacty: 1 GB"))
    assert lines(path) == [
        'bad.yaml: memory.capacty: expected a known key, got "capacty" (did you mean "capacity"?)'
    ]


def test_unknown_dtype(write_yaml: Write) -> None:
    path = write_yaml("bad.yaml", DEVICE.replace("bf16: 100", "bfloat16: 100"))
    assert lines(path) == [
        "bad.yaml: compute.matrix.bfloat16: expected a data type "
        "(fp64, fp32, tf32, bf16, fp16, fp8, fp4, int8), "
        'got "bfloat16" (did you mean "bf16"?)'
    ]


def test_name_key_points_to_description(write_yaml: Write) -> None:
    path = write_yaml("bad.yaml", DEVICE + "name: Test GPU\n")
    assert lines(path) == [
        'bad.yaml: name: expected no name key (a device is named by its file stem), got "Test GPU" '
        "(write the display name under description)"
    ]


def test_missing_required_key(write_yaml: Write) -> None:
    path = write_yaml("bad.yaml", DEVICE.replace(", bandwidth: 2 TB/s", ""))
    assert lines(path) == [
        'bad.yaml: memory.bandwidth: expected a byte rate like "3.35 TB/s", got nothing '
        "(this key is required)"
    ]


def test_empty_sources(write_yaml: Write) -> None:
    path = write_yaml("bad.yaml", DEVICE.replace("[a datasheet]", "[]"))
    assert lines(path) == [
        "bad.yaml: sources: expected a non-empty list of sources for the figures, got an empty list "
        "(name the datasheet, paper or measurement each number comes from)"
    ]


def test_extends_of_a_missing_file(write_yaml: Write) -> None:
    path = write_yaml("child.yaml", "schema: hwsim.device/1\nextends: h100_sxn\nsources: [x]\n")
    assert lines(path) == [
        'child.yaml: extends: expected the stem or path of a hwsim.device/1 file, got "h100_sxn" '
        '(did you mean "h100_sxm"?)'
    ]


def test_extends_cycle_names_the_chain(write_yaml: Write) -> None:
    write_yaml("a.yaml", "schema: hwsim.device/1\nextends: b\nsources: [x]\n")
    write_yaml("b.yaml", "schema: hwsim.device/1\nextends: a\nsources: [x]\n")
    assert lines("a.yaml") == [
        "a.yaml: extends: expected a chain of parents without a cycle, got a -> b -> a"
    ]


def test_extends_a_file_of_another_kind(write_yaml: Write) -> None:
    write_yaml("node.yaml", "schema: hwsim.node/1\n")
    path = write_yaml("child.yaml", "schema: hwsim.device/1\nextends: node\nsources: [x]\n")
    assert lines(path) == [
        'node.yaml: schema: expected "hwsim.device/1", got "hwsim.node/1" (this file is of another kind)'
    ]


def test_child_must_list_its_own_sources(write_yaml: Write) -> None:
    write_yaml("base.yaml", DEVICE)
    path = write_yaml("child.yaml", "schema: hwsim.device/1\nextends: base\ntdp: 700 W\n")
    assert lines(path) == [
        "child.yaml: sources: expected a list of text values, got nothing (this key is required)"
    ]


def test_node_naming_a_missing_device(write_yaml: Write) -> None:
    path = write_yaml(
        "node.yaml", "schema: hwsim.node/1\ndevice: h100_sxn\ncount: 8\nscale_up: {}\nsources: [x]\n"
    )
    assert lines(path) == [
        'node.yaml: device: expected the stem or path of a hwsim.device/1 file, got "h100_sxn" '
        '(did you mean "h100_sxm"?)'
    ]


def test_node_reports_its_broken_device_file(write_yaml: Write) -> None:
    write_yaml("gpu.yaml", DEVICE.replace("80 GB", "80 Gb"))
    path = write_yaml("node.yaml", "schema: hwsim.node/1\ndevice: gpu\ncount: 8\nscale_up: {}\nsource: [x]\n")
    assert lines(path) == [
        'gpu.yaml: memory.capacity: expected a size in bytes like "80 GiB", got "80 Gb" '
        '("Gb" is bits; a size in bytes is written with B, e.g. "80 GB" or "80 GiB")',
        "node.yaml: sources: expected a list of text values, got nothing (this key is required)",
        'node.yaml: source: expected a known key, got "source" (did you mean "sources"?)',
    ]


def test_node_without_a_scale_up_bandwidth_anywhere(write_yaml: Write) -> None:
    write_yaml("gpu.yaml", DEVICE)
    path = write_yaml(
        "node.yaml", "schema: hwsim.node/1\ndevice: gpu\ncount: 8\nscale_up: {}\nsources: [x]\n"
    )
    assert lines(path) == [
        'node.yaml: scale_up.bandwidth: expected a byte rate like "3.35 TB/s" per device, per direction, '
        "got nothing (the device gives no interconnect.scale_up either)"
    ]


def test_file_of_the_wrong_schema(write_yaml: Write) -> None:
    path = write_yaml("bad.yaml", "schema: hwsim.workload/1\nmodel: x\n")
    assert lines(path) == [
        'bad.yaml: schema: expected "hwsim.device/1", "hwsim.node/1" or "hwsim.cluster/1", '
        'got "hwsim.workload/1" (this file is not a hardware description)'
    ]


def test_device_loader_refuses_a_node_file(write_yaml: Write) -> None:
    path = write_yaml("bad.yaml", "schema: hwsim.node/1\n")
    assert lines(path, load_device) == [
        'bad.yaml: schema: expected "hwsim.device/1", got "hwsim.node/1" (this file is of another kind)'
    ]


def test_missing_schema_line(write_yaml: Write) -> None:
    path = write_yaml("bad.yaml", DEVICE.replace("schema: hwsim.device/1\n", ""))
    assert lines(path) == [
        'bad.yaml: schema: expected "hwsim.device/1", "hwsim.node/1" or "hwsim.cluster/1", got nothing '
        "(add the schema line at the top)"
    ]


def test_empty_file(write_yaml: Write) -> None:
    path = write_yaml("bad.yaml", "")
    assert lines(path) == [
        'bad.yaml: expected a hardware file starting with a schema line ("hwsim.device/1", "hwsim.node/1" '
        'or "hwsim.cluster/1"), got an empty file'
    ]


def test_a_directory_passed_as_a_file(write_yaml: Write) -> None:
    write_yaml("folder/x.yaml", DEVICE)
    assert lines("folder") == ["folder: expected a YAML file, got a directory"]


def test_a_missing_file(write_yaml: Write) -> None:
    write_yaml("x.yaml", DEVICE)
    assert lines("nope.yaml") == ["nope.yaml: expected an existing file, got no such file"]


def test_unknown_catalogue_name(write_yaml: Write) -> None:
    with pytest.raises(InputError) as info:
        load_system("dgx_h10")
    assert str(info.value) == (
        '<command line>: system: expected a catalogue name or a path to a YAML file, got "dgx_h10" '
        '(no such file or catalogue entry; did you mean "dgx_h100"?)'
    )


def test_abstract_template_is_refused_for_estimates() -> None:
    with pytest.raises(InputError) as info:
        load_system("cpu_host")
    (problem,) = info.value.problems
    assert problem.key == "abstract"
    assert problem.line().endswith(
        "abstract: expected a device with its peak rates and memory, got an abstract template "
        '(write a file with "extends: cpu_host" that sets compute and memory)'
    )


def test_torus_dims_must_match_the_node(write_yaml: Write) -> None:
    path = write_yaml(
        "node.yaml",
        """\
        schema: hwsim.node/1
        device: tpu_v5p
        count: 4
        scale_up: {topology: torus, dims: [2, 2, 2], bandwidth: 600 GB/s}
        sources: [x]
        """,
    )
    assert lines(path) == [
        "node.yaml: scale_up.dims: expected a torus shape whose product is the level's size 4, got [2, 2, 2] "
        "(product 8)"
    ]


def test_dims_on_a_switch(write_yaml: Write) -> None:
    path = write_yaml(
        "node.yaml",
        """\
        schema: hwsim.node/1
        device: h100_sxm
        count: 8
        scale_up: {topology: switch, dims: [8]}
        sources: [x]
        """,
    )
    assert lines(path) == [
        "node.yaml: scale_up.dims: expected no dims for a switch topology, got [8] (only a torus has dims)"
    ]


def test_cluster_levels_must_reach_every_device(write_yaml: Write) -> None:
    path = write_yaml(
        "cluster.yaml",
        """\
        schema: hwsim.cluster/1
        node: dgx_h100
        node_count: 4
        levels:
          - {topology: fat_tree, size: 16, bandwidth: 400 Gb/s}
        sources: [x]
        """,
    )
    assert lines(path) == [
        "cluster.yaml: levels[0].size: expected 32 (node_count x devices per node), got 16 "
        "(the outermost level reaches every device)"
    ]


def test_cluster_level_with_a_misspelt_topology(write_yaml: Write) -> None:
    path = write_yaml(
        "cluster.yaml",
        """\
        schema: hwsim.cluster/1
        node: dgx_h100
        node_count: 4
        levels:
          - {topology: fattree, bandwidth: 400 Gb/s}
        sources: [x]
        """,
    )
    assert lines(path) == [
        "cluster.yaml: levels[0].topology: expected one of switch, fat_tree, torus, ring, mesh, "
        'got "fattree" '
        '(did you mean "fat_tree"?)'
    ]


def test_several_problems_in_one_file_are_all_reported(write_yaml: Write) -> None:
    path = write_yaml(
        "bad.yaml",
        """\
        schema: hwsim.device/1
        kind: gpus
        vendor: Acme
        compute: {matrix: {bf16: 100}}
        memory: {capacity: 80 Gb, bandwidth: 0 TB/s}
        tdp: 700 V
        colour: green
        """,
    )
    assert lines(path) == [
        'bad.yaml: kind: expected one of gpu, tpu, accelerator, cpu, got "gpus" (did you mean "gpu"?)',
        'bad.yaml: compute.matrix.bf16: expected a compute rate like "989 TFLOP/s", got 100 '
        "(a bare number has no unit)",
        'bad.yaml: memory.capacity: expected a size in bytes like "80 GiB", got "80 Gb" '
        '("Gb" is bits; a size in bytes is written with B, e.g. "80 GB" or "80 GiB")',
        'bad.yaml: memory.bandwidth: expected a positive byte rate like "3.35 TB/s", got "0 TB/s" '
        "(it must be above zero)",
        'bad.yaml: tdp: expected a power like "700 W", got "700 V" '
        '(unknown unit "V"; a power uses W with a prefix)',
        "bad.yaml: sources: expected a list of text values, got nothing (this key is required)",
        'bad.yaml: colour: expected a known key, got "colour" (allowed: abstract, compute, description, '
        "interconnect, kind, measured, memory, schema, sources, sram, tdp, vendor)",
    ]
