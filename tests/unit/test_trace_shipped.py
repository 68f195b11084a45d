"""The shipped workloads, traced once (block replication keeps GPT-3 175B and Llama 3 405B fast):
every op has a cost rule, and a dense training step costs 6 N FLOPs per token plus attention."""

from __future__ import annotations

import pytest

from hwsim.ir import Graph
from hwsim.resources import workloads_dir
from hwsim.trace import trace_workload
from hwsim.workload import Workload, load_workload

SHIPPED = sorted(p.stem for p in workloads_dir().glob("*.yaml"))


@pytest.fixture(scope="module")
def traced() -> dict[str, tuple[Workload, Graph]]:
    out = {}
    for stem in SHIPPED:
        workload = load_workload(stem)
        out[stem] = (workload, trace_workload(workload))
    return out


def test_every_shipped_workload_is_fully_costed(traced: dict[str, tuple[Workload, Graph]]) -> None:
    for stem, (workload, graph) in traced.items():
        assert graph.uncosted() == {}, stem
        assert graph.params > 0 and graph.memory.weights > 0, stem
        assert graph.tokens == workload.task.tokens, stem
        big = workload.model.layers > 3
        assert graph.info["replicated"] == big, stem


def expected_training_flop(workload: Workload) -> tuple[int, int]:
    """6 N per token (Kaplan et al. 2020: forward 2N, backward 4N) for the N parameters that take
    part in matmuls (all but the input and position embeddings, unless the input embedding is tied
    to the LM head), plus causal flash attention per block: forward 2 B d T (T+1) (QK^T and PV over
    T(T+1)/2 pairs per head), backward 2.5 times that (five GEMMs, QK^T recomputed) = 7 B d T (T+1).
    Returns (embedding parameters to leave out of N, attention FLOPs)."""
    spec, task = workload.model, workload.task
    n = 0
    if not spec.tie_embeddings:
        n += spec.vocab * spec.hidden
    if spec.family == "gpt":
        n += spec.seq_len * spec.hidden
    return n, 7 * task.batch * spec.hidden * task.seq_len * (task.seq_len + 1) * spec.layers


def test_dense_training_flops_are_6n_per_token_plus_attention(
    traced: dict[str, tuple[Workload, Graph]],
) -> None:
    checked = 0
    for _stem, (workload, graph) in traced.items():
        if workload.task.mode != "train" or workload.model.is_moe or "tiny" in workload.name:
            continue  # toy widths: pointwise FLOPs are not negligible beside the matmuls
        embeddings, attention = expected_training_flop(workload)
        expected = 6 * (graph.params - embeddings) * graph.tokens + attention
        assert graph.total("flop") == pytest.approx(expected, rel=0.02), workload.name
        checked += 1
    assert checked >= 6
