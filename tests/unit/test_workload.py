"""Workload files: the shipped ones load, overrides and `extends` work, fields land where expected."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hwsim.resources import workloads_dir
from hwsim.workload import Task, apply_overrides, load_workload

SHIPPED = sorted(p.stem for p in workloads_dir().glob("*.yaml"))


def test_the_required_workloads_ship() -> None:
    required = {
        "gpt2-124m-train",
        "gpt3-175b-train",
        "llama2-7b-train",
        "llama3-8b-train",
        "llama3-70b-train",
        "llama3-405b-train",
        "mixtral-8x7b-train",
        "llama2-7b-prefill",
        "llama2-7b-decode",
        "llama2-70b-decode",
        "gpt-tiny-train",
        "llama-tiny-train",
        "llama-tiny-decode",
        "mixtral-tiny-train",
    }
    assert required <= set(SHIPPED)


@pytest.mark.parametrize("stem", SHIPPED)
def test_every_shipped_workload_loads_and_names_its_sources(stem: str) -> None:
    workload = load_workload(stem)
    assert workload.name == stem
    assert workload.sources, "every workload says where its dimensions come from"
    assert workload.task.tokens > 0


def test_fields_of_a_training_workload() -> None:
    w = load_workload("llama3-70b-train")
    assert (w.model.family, w.model.layers, w.model.hidden, w.model.heads, w.model.kv_heads) == (
        "llama",
        80,
        8192,
        64,
        8,
    )
    assert (w.model.ffn_hidden, w.model.vocab, w.model.rope_theta, w.model.tie_embeddings) == (
        28672,
        128256,
        500000,
        False,
    )
    assert w.task == Task(mode="train", batch=1, dtype="bf16", seq_len=8192, optimizer="adamw")
    assert w.plan == {"dp": 64}
    assert w.path.endswith("llama3-70b-train.yaml")


def test_gpt_defaults_to_tied_embeddings_and_biases() -> None:
    w = load_workload("gpt3-175b-train")
    assert w.model.tie_embeddings and w.model.bias and w.model.kv_heads == 0


def test_moe_workload_keeps_its_routing() -> None:
    w = load_workload("mixtral-8x7b-train")
    assert (w.model.experts, w.model.top_k, w.routing) == (8, 2, "uniform")


def test_extends_takes_the_parent_model() -> None:
    w = load_workload("llama-tiny-decode")
    parent = load_workload("llama-tiny-train")
    assert w.model == parent.model
    assert w.task == Task(mode="decode", batch=2, dtype="fp32", context_len=32)
    assert w.task.tokens == 2


def test_overrides_are_dotted_and_parsed_as_yaml() -> None:
    w = load_workload("llama-tiny-train", ["task.batch=8", "task.dtype=bf16", "plan.tp=2"])
    assert (w.task.batch, w.task.dtype, w.plan) == (8, "bf16", {"tp": 2})


def test_apply_overrides_returns_a_copy() -> None:
    raw = {"task": {"batch": 2}}
    out = apply_overrides(raw, ["task.batch=4", "model.layers=3", "routing=uniform"])
    assert out == {"task": {"batch": 4}, "model": {"layers": 3}, "routing": "uniform"}
    assert raw == {"task": {"batch": 2}}


def test_training_seq_len_defaults_to_the_model(write_yaml: Callable[[str, str], Path]) -> None:
    path = write_yaml(
        "w.yaml",
        """\
        schema: hwsim.workload/1
        model: {family: gpt, layers: 1, hidden: 8, heads: 2, ffn_hidden: 32, vocab: 10, seq_len: 16}
        task: {mode: train, batch: 1}
        """,
    )
    w = load_workload(path)
    assert (w.task.seq_len, w.task.dtype, w.task.optimizer, w.name) == (16, "bf16", "adamw", "w")
