"""Fuzz the hardware loader (devices, nodes, clusters): load, or raise hwsim's own error; nothing else."""

from __future__ import annotations

from fuzzkit import (
    CATALOGUE,
    MISSING_REFS,
    VALUES,
    check_numbers,
    deep_texts,
    dump,
    fuzz_settings,
    loads_or_input_error,
    must_refuse,
    mutated,
    seeds,
    with_alias,
    with_duplicate_key,
)
from hypothesis import given
from hypothesis import strategies as st

from hwsim.hardware.loader import check_file, load_system

SEEDS = seeds(CATALOGUE / "devices", CATALOGUE / "nodes", CATALOGUE / "clusters")
SCHEMAS = ["hwsim.device/1", "hwsim.node/1", "hwsim.cluster/1"]
NODE_TEXT = (CATALOGUE / "nodes" / "dgx_h100.yaml").read_text(encoding="utf-8")
CLUSTER_TEXT = (CATALOGUE / "clusters" / "dgx_h100_superpod.yaml").read_text(encoding="utf-8")


def _load(path):
    system = load_system(path)
    check_file(path)  # `hwsim hw check` path: must agree
    return system


@st.composite
def hardware_case(draw):
    stem, _, doc = draw(st.sampled_from(SEEDS))
    doc = draw(mutated(doc))
    return stem, doc, draw(st.sampled_from(["direct", "direct", "via_node", "via_cluster"]))


def _load_case(stem, text, how):
    """Load the mutated file itself, or (how=via_*) a shipped node/cluster that names it by stem."""
    if how == "direct":
        return loads_or_input_error(_load, text, f"hw/{stem}.yaml")
    if how == "via_node":  # a node naming the mutated file as its device
        node = NODE_TEXT.replace("device: h100_sxm", f"device: {stem}")
        return loads_or_input_error(_load, node, "hw/fuzz_node.yaml", extra={f"hw/{stem}.yaml": text})
    cluster = CLUSTER_TEXT.replace("node: dgx_h100", f"node: {stem}")  # a cluster naming it as its node
    return loads_or_input_error(_load, cluster, "hw/fuzz_cluster.yaml", extra={f"hw/{stem}.yaml": text})


@fuzz_settings(500)
@given(case=hardware_case())
def test_mutated_hardware_loads_or_input_error(case) -> None:
    stem, doc, how = case
    system = _load_case(stem, dump(doc), how)
    if system is not None:
        check_numbers(system, "system")


@fuzz_settings(150)
@given(doc=st.dictionaries(st.text(max_size=10), VALUES, max_size=6), schema=st.sampled_from(SCHEMAS))
def test_random_hardware_document(doc, schema) -> None:
    doc = {"schema": schema, **doc} if "schema" not in doc else doc
    system = loads_or_input_error(_load, dump(doc), "hw/random.yaml")
    if system is not None:
        check_numbers(system, "system")


@fuzz_settings(80)
@given(text=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_random_text(text) -> None:
    loads_or_input_error(_load, text, "hw/text.yaml")


@fuzz_settings(150)
@given(data=st.data())
def test_duplicate_keys_are_refused(data) -> None:
    stem, _, doc = data.draw(st.sampled_from(SEEDS))
    must_refuse(_load, data.draw(with_duplicate_key(doc)), f"hw/{stem}.yaml")


@fuzz_settings(40)
@given(text=deep_texts("hwsim.device/1", ["memory", "compute", "interconnect", "sources", "extends"])
       | deep_texts("hwsim.node/1", ["scale_up", "scale_out", "device"])
       | deep_texts("hwsim.cluster/1", ["levels", "node"]))  # fmt: skip
def test_deep_nesting_is_refused(text) -> None:
    must_refuse(_load, text, "hw/deep.yaml")


@fuzz_settings(100)
@given(data=st.data())
def test_wrong_schema_is_refused(data) -> None:
    stem, _, doc = data.draw(st.sampled_from(SEEDS))
    wrong = data.draw(
        st.sampled_from(["hwsim.device/2", "hwsim.workload/1", "hwsim.calibration/1", "hwsim.node", "device",
                         "", "HWSIM.DEVICE/1", " hwsim.device/1", "hwsim.device/1 "])
        | VALUES.filter(lambda v: v not in SCHEMAS)
    )  # fmt: skip
    doc = dict(doc)
    if data.draw(st.booleans()):
        doc["schema"] = wrong
    else:
        del doc["schema"]
    must_refuse(_load, dump(doc), f"hw/{stem}.yaml")


@fuzz_settings(120)
@given(data=st.data())
def test_extends_to_missing_file_is_refused(data) -> None:
    stem, _, doc = data.draw(st.sampled_from(SEEDS))
    doc = {**doc, "extends": data.draw(MISSING_REFS)}
    must_refuse(_load, dump(doc), f"hw/{stem}.yaml")


@fuzz_settings(50)
@given(data=st.data())
def test_recursive_aliases_and_alias_bombs(data) -> None:
    stem, _, doc = data.draw(st.sampled_from(SEEDS))
    result = loads_or_input_error(_load, data.draw(with_alias(doc)), f"hw/{stem}.yaml")
    if result is not None:
        check_numbers(result, "result")


@fuzz_settings(80)
@given(ref=MISSING_REFS, which=st.sampled_from(["node", "cluster"]))
def test_reference_to_missing_file_is_refused(ref, which) -> None:
    """A node's `device:` or a cluster's `node:` naming no file is an input error."""
    if which == "node":
        text = NODE_TEXT.replace("device: h100_sxm", "device: " + dump(ref).removesuffix("\n...\n").strip())
    else:
        text = CLUSTER_TEXT.replace("node: dgx_h100", "node: " + dump(ref).removesuffix("\n...\n").strip())
    must_refuse(_load, text, f"hw/fuzz_{which}.yaml")


@fuzz_settings(300)
@given(data=st.data())
def test_renumbered_values_load_only_if_sane(data) -> None:
    """Only numbers change: what loads must hold finite, normal, non-negative, 64-bit numbers."""
    stem, _, doc = data.draw(st.sampled_from(SEEDS))
    doc = data.draw(mutated(doc, ops=("renumber",)))
    result = loads_or_input_error(_load, dump(doc), f"hw/{stem}.yaml")
    if result is not None:
        check_numbers(result, "system")
