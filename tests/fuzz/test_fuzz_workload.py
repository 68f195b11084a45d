"""Fuzz the workload loader (no tracing): load, or raise hwsim's own error; nothing else escapes."""

from __future__ import annotations

from fuzzkit import (
    MISSING_REFS,
    VALUES,
    WORKLOADS,
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

from hwsim.errors import HwsimError
from hwsim.workload import load_workload

SEEDS = seeds(WORKLOADS)


def _check(workload) -> None:
    # plan values are kept raw for the parallel planner, which validates them; everything parsed here
    # (model dimensions, task lengths, norm_eps, rope_theta) must be finite and sane
    check_numbers(workload.model, "model")
    check_numbers(workload.task, "task")


@fuzz_settings(500)
@given(data=st.data())
def test_mutated_workload_loads_or_input_error(data) -> None:
    stem, _, doc = data.draw(st.sampled_from(SEEDS))
    doc = data.draw(mutated(doc))
    workload = loads_or_input_error(load_workload, dump(doc), f"w/{stem}.yaml")
    if workload is not None:
        _check(workload)


@fuzz_settings(150)
@given(doc=st.dictionaries(st.text(max_size=10), VALUES, max_size=6),
       model=st.dictionaries(st.sampled_from(["family", "layers", "hidden", "heads", "kv_heads", "ffn_hidden",
                                              "vocab", "seq_len", "experts", "top_k", "norm_eps", "rope_theta",
                                              "bias", "tie_embeddings"]), VALUES, max_size=10),
       task=st.dictionaries(st.sampled_from(["mode", "batch", "dtype", "seq_len", "prompt_len", "context_len",
                                             "optimizer", "launch"]), VALUES, max_size=6))  # fmt: skip
def test_random_workload_document(doc, model, task) -> None:
    doc = {"schema": "hwsim.workload/1", "model": model, "task": task, **doc}
    workload = loads_or_input_error(load_workload, dump(doc), "w/random.yaml")
    if workload is not None:
        _check(workload)


OVERRIDE = st.one_of(
    st.builds(lambda k, v: f"{k}={v}",
              st.sampled_from(["model.layers", "model.hidden", "model.heads", "model.norm_eps", "model.rope_theta",
                               "task.batch", "task.seq_len", "task.mode", "task.dtype", "model", "task", "plan.tp",
                               "model.layers.x", "a..b", ".x", "x.", "schema", "extends", "model.family"]),
              st.sampled_from([".nan", ".inf", "-.inf", "5e-324", "1e400", "0", "-1", "10" + "0" * 400, "null",
                               "[1, 2]", "{a: 1}", "'4'", "true", "'[unclosed", "&a [*a]", "!!python/none",
                               "{", "gpt", "1.0e+3", "0x10", "1_000"])),  # fmt: skip
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),
)


@fuzz_settings(300)
@given(stem=st.sampled_from([s for s, _, _ in SEEDS]), overrides=st.lists(OVERRIDE, max_size=3))
def test_set_overrides(stem, overrides) -> None:
    try:
        workload = load_workload(WORKLOADS / f"{stem}.yaml", overrides)
    except HwsimError:
        return
    _check(workload)


@fuzz_settings(150)
@given(data=st.data())
def test_duplicate_keys_are_refused(data) -> None:
    stem, _, doc = data.draw(st.sampled_from(SEEDS))
    must_refuse(load_workload, data.draw(with_duplicate_key(doc)), f"w/{stem}.yaml")


@fuzz_settings(40)
@given(text=deep_texts("hwsim.workload/1", ["model", "task", "plan", "sources", "extends", "description"]))
def test_deep_nesting_is_refused(text) -> None:
    must_refuse(load_workload, text, "w/deep.yaml")


@fuzz_settings(60)
@given(data=st.data())
def test_wrong_schema_is_refused(data) -> None:
    stem, _, doc = data.draw(st.sampled_from(SEEDS))
    wrong = data.draw(
        st.sampled_from(["hwsim.workload/2", "hwsim.device/1", "hwsim.workload", "", " hwsim.workload/1"])
        | VALUES.filter(lambda v: v != "hwsim.workload/1")
    )
    doc = {**doc, "schema": wrong}
    must_refuse(load_workload, dump(doc), f"w/{stem}.yaml")


@fuzz_settings(100)
@given(data=st.data())
def test_extends_to_missing_file_is_refused(data) -> None:
    stem, _, doc = data.draw(st.sampled_from(SEEDS))
    doc = {**doc, "extends": data.draw(MISSING_REFS)}
    must_refuse(load_workload, dump(doc), f"w/{stem}.yaml")


@fuzz_settings(50)
@given(data=st.data())
def test_recursive_aliases_and_alias_bombs(data) -> None:
    stem, _, doc = data.draw(st.sampled_from(SEEDS))
    result = loads_or_input_error(load_workload, data.draw(with_alias(doc)), f"w/{stem}.yaml")
    if result is not None:
        _check(result)


@fuzz_settings(300)
@given(data=st.data())
def test_renumbered_values_load_only_if_sane(data) -> None:
    """Only numbers change: what loads must hold finite, normal, non-negative, 64-bit numbers."""
    stem, _, doc = data.draw(st.sampled_from(SEEDS))
    doc = data.draw(mutated(doc, ops=("renumber",)))
    result = loads_or_input_error(load_workload, dump(doc), f"w/{stem}.yaml")
    if result is not None:
        _check(result)
