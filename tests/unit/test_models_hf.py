"""The optional Hugging Face path (hwsim[hf]): a local config.json becomes a traced model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

transformers = pytest.importorskip("transformers")

from hwsim.trace import trace_workload  # noqa: E402
from hwsim.workload import load_workload  # noqa: E402

CONFIG = {
    "model_type": "llama",
    "vocab_size": 128,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 64,
}


def test_hf_config_builds_and_traces(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(CONFIG), encoding="utf-8")
    (tmp_path / "w.yaml").write_text(
        "schema: hwsim.workload/1\nmodel: {hf_config: config.json}\n"
        "task: {mode: train, batch: 1, seq_len: 16, dtype: fp32}\n",
        encoding="utf-8",
    )
    workload = load_workload(tmp_path / "w.yaml")
    assert (workload.model.family, workload.model.vocab, workload.model.layers) == ("hf", 128, 2)
    graph = trace_workload(workload)
    assert graph.total("flop") > 0
    assert any(op.op_class == "attention" for op in graph.ops)
    assert any(op.scope.startswith("model.layers.1.") for op in graph.ops)
