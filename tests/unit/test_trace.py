"""The tracer on the tiny zoo: FLOPs agree with torch's FlopCounterMode, scopes are exact in both
directions, replication equals a full trace, the KV-cache write feeds the attention, memory facts
follow from the tensors."""

from __future__ import annotations

from collections import defaultdict

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode, flop_registry

from hwsim.ir import Graph
from hwsim.models import build_model
from hwsim.trace import summarize, trace_workload
from hwsim.trace.recorder import Recorder
from hwsim.trace.step import make_state, run_step
from hwsim.workload import load_workload

TINY = ["gpt-tiny-train", "llama-tiny-train", "mixtral-tiny-train", "llama-tiny-prefill", "llama-tiny-decode"]
MATMULS = {"aten.mm", "aten.addmm", "aten.bmm"}
ATTENTION = {
    "aten._scaled_dot_product_flash_attention",
    "aten._scaled_dot_product_flash_attention_backward",
    "aten._scaled_dot_product_efficient_attention",
    "aten._scaled_dot_product_efficient_attention_backward",
}


def packet(target: str) -> str:
    return target.rsplit(".", 1)[0]


class PerOpFlops(TorchDispatchMode):
    """FlopCounterMode's formula (torch.utils.flop_counter.flop_registry) for each op, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: list[tuple[str, int]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.counts.append((str(func), formula(*args, out_val=out, **kwargs)))
        return out


@pytest.mark.parametrize(
    "stem", ["gpt-tiny-train", "llama-tiny-train", "mixtral-tiny-train", "llama-tiny-decode"]
)
@pytest.mark.parametrize("dtype", ["bf16", "fp32"])
def test_matmul_and_attention_flops_equal_flop_counter_mode(stem: str, dtype: str) -> None:
    """Same step, same redirect to the fused kernels, op by op and in total; FlopCounterMode counts
    the full T^2 of causal attention, so attention ops are compared after dividing out their causal
    fraction."""
    workload = load_workload(stem, [f"task.dtype={dtype}"])
    with torch.device("meta"):
        model = build_model(workload.model, dtype=dtype)
    state = make_state(model, workload, "meta")
    recorder = Recorder(model)
    per_op = PerOpFlops()
    with recorder, FlopCounterMode(display=False) as counter, per_op:
        run_step(model, state, workload, recorder)
    ours = [r for r in recorder.records if packet(r.target) in MATMULS | ATTENTION]
    assert [r.target for r in ours] == [target for target, _ in per_op.counts]
    for r, (_, flop) in zip(ours, per_op.counts, strict=True):
        assert r.flop / r.attrs.get("causal_fraction", 1.0) == pytest.approx(flop, rel=1e-12), r.target
    theirs = {str(k): v for k, v in counter.get_flop_counts()["Global"].items()}
    totals: dict[str, float] = defaultdict(float)
    for r in ours:
        totals[packet(r.target)] += r.flop / r.attrs.get("causal_fraction", 1.0)
    assert set(totals) == {k for k in theirs if k in MATMULS | ATTENTION}
    for name, flop in totals.items():
        assert flop == pytest.approx(theirs[name], rel=1e-9), name


def test_causal_attention_counts_the_unmasked_pairs() -> None:
    g = trace_workload(load_workload("llama-tiny-train"))
    fwd = next(op for op in g.ops if op.op_class == "attention" and op.phase == "fwd")
    b, h, t, d = fwd.inputs[0].shape
    assert fwd.attrs["causal"] and fwd.attrs["kv_heads"] == 2
    assert fwd.flop == 2 * b * h * (t * (t + 1) // 2) * (d + d)  # QK^T and PV over T(T+1)/2 pairs
    bwd = next(op for op in g.ops if op.op_class == "attention" and op.phase == "bwd")
    assert bwd.flop == 2.5 * fwd.flop  # five GEMMs against two, QK^T recomputed
    assert bwd.attrs["recompute_flop"] == fwd.flop / 2


@pytest.mark.parametrize("stem", ["llama-tiny-train", "gpt-tiny-train", "mixtral-tiny-train"])
def test_backward_flops_of_each_linear_are_twice_its_forward(stem: str) -> None:
    workload = load_workload(stem)
    graph = trace_workload(workload)
    model = build_model(workload.model, dtype="fp32")
    linears = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    flop = {(op.scope, op.phase): 0.0 for op in graph.ops}
    for op in graph.ops:
        if op.op_class == "matmul":
            flop[(op.scope, op.phase)] += op.flop
    for name in linears:
        assert flop[(name, "fwd")] > 0, name
        assert flop[(name, "bwd")] == 2 * flop[(name, "fwd")], name


def test_backward_ops_are_scoped_to_their_module() -> None:
    graph = trace_workload(load_workload("llama-tiny-train"))
    bwd = [op for op in graph.ops if op.phase == "bwd"]
    assert {op.scope for op in bwd if op.target == "hwsim.rms_norm_backward.default"} == {
        *(f"layers.{i}.{n}" for i in range(4) for n in ("attn_norm", "ffn_norm")),
        "norm",
    }
    assert {op.scope for op in bwd if op.op_class == "attention"} == {f"layers.{i}.attn" for i in range(4)}
    assert {op.scope for op in bwd if op.target.startswith("aten._log_softmax")} == {"loss"}
    assert all(op.scope for op in bwd)
    fwd_loss = [op for op in graph.ops if op.scope == "loss" and op.phase == "fwd"]
    assert {op.target for op in fwd_loss} >= {"aten._log_softmax.default", "aten.nll_loss_forward.default"}


def signature(graph: Graph) -> list[tuple]:
    return [
        (
            op.target,
            op.phase,
            op.scope,
            op.inputs,
            op.outputs,
            op.flop,
            op.bytes_read,
            op.bytes_written,
            op.deps,
            op.op_class,
        )
        for op in graph.ops
    ]


@pytest.mark.parametrize("stem", TINY)
def test_replicated_trace_equals_the_full_trace(stem: str) -> None:
    workload = load_workload(stem, ["model.layers=6"])
    replicated = trace_workload(workload)
    full = trace_workload(workload, replicate_layers=False)
    assert replicated.info["replicated"] and replicated.info["traced_layers"] == 3
    assert not full.info["replicated"] and full.info["traced_layers"] == 6
    assert signature(replicated) == signature(full)
    assert replicated.memory == full.memory
    assert (replicated.params, replicated.active_params) == (full.params, full.active_params)


@pytest.mark.parametrize("stem", TINY)
@pytest.mark.parametrize("dtype", ["bf16", "fp16", "fp32"])
def test_the_zoo_has_no_uncosted_op(stem: str, dtype: str) -> None:
    graph = trace_workload(load_workload(stem, [f"task.dtype={dtype}"]))
    assert graph.uncosted() == {}
    assert {op.op_class for op in graph.ops} - {"other"} == {op.op_class for op in graph.ops}


def test_decode_reads_the_cache_after_writing_it() -> None:
    graph = trace_workload(load_workload("llama-tiny-decode"))
    attentions = [op for op in graph.ops if op.op_class == "attention"]
    assert len(attentions) == 4
    for attn in attentions:
        writes = [op for op in graph.ops if op.target == "aten.copy_.default" and op.scope == attn.scope]
        assert len(writes) == 2  # keys and values
        assert {w.id for w in writes} <= set(attn.deps)
        k = writes[0].inputs[0]
        assert k.shape == (2, 2, 1, 16)  # one new token per sequence
        assert writes[0].bytes_written == k.nbytes
        assert attn.attrs["kv_len"] == 33 and attn.attrs["q_len"] == 1 and not attn.attrs["causal"]


def test_gqa_attention_reads_each_kv_head_once() -> None:
    graph = trace_workload(load_workload("llama-tiny-decode"))
    attn = next(op for op in graph.ops if op.op_class == "attention")
    q, k, v = attn.inputs
    out = attn.outputs[0]
    share = attn.attrs["kv_heads"] / attn.attrs["heads"]
    assert share == 0.5
    assert attn.bytes_read == q.nbytes + (k.nbytes + v.nbytes) * share
    assert attn.bytes_written == sum(t.nbytes for t in attn.outputs) and out.shape == q.shape


def test_deps_point_backwards_and_views_keep_them() -> None:
    graph = trace_workload(load_workload("gpt-tiny-train"))
    assert all(d < op.id for op in graph.ops for d in op.deps)
    # GPT splits the fused QKV projection with views: attention depends on the projection itself.
    qkv = next(op for op in graph.ops if op.scope == "layers.0.attn.wqkv" and op.phase == "fwd")
    attn = next(op for op in graph.ops if op.scope == "layers.0.attn" and op.op_class == "attention")
    assert qkv.id in attn.deps


def test_training_memory_follows_from_the_tensors() -> None:
    workload = load_workload("llama-tiny-train", ["task.dtype=bf16"])
    graph = trace_workload(workload)
    mem = graph.memory
    assert mem.weights == 2 * graph.params  # bf16 parameters
    assert mem.gradients == mem.weights
    assert mem.optimizer_states == 12 * graph.params  # fp32 master weights and two fp32 moments
    assert mem.activations > 0 and mem.transient > 0 and mem.kv_cache == 0
    fp32 = trace_workload(load_workload("llama-tiny-train")).memory
    assert (fp32.weights, fp32.optimizer_states) == (4 * graph.params, 8 * graph.params)


def test_inference_memory_has_a_cache_and_no_activations() -> None:
    workload = load_workload("llama-tiny-decode")
    graph = trace_workload(workload)
    spec, task = workload.model, workload.task
    per_layer = 2 * task.batch * spec.kv_heads * (task.context_len + 1) * spec.head_dim * 4
    assert graph.memory.kv_cache == spec.layers * per_layer
    assert graph.memory.activations == 0 and graph.memory.gradients == 0
    assert (graph.tokens, graph.batch, graph.mode) == (2, 2, "decode")


def test_moe_counts_active_parameters_and_routes_uniformly() -> None:
    graph = trace_workload(load_workload("mixtral-tiny-train"))
    hidden, ffn, experts, top_k, layers = 64, 128, 4, 2, 4
    expert_params = 3 * hidden * ffn
    assert graph.params - graph.active_params == layers * (experts - top_k) * expert_params
    tokens = graph.tokens
    w1 = [op for op in graph.ops if op.scope.endswith(".w1") and op.phase == "fwd" and "experts" in op.scope]
    assert len(w1) == layers * experts
    assert {op.inputs[0].shape for op in w1} == {(tokens * top_k // experts, hidden)}


def test_phases_and_optimizer_ops() -> None:
    graph = trace_workload(load_workload("gpt-tiny-train"))
    phases = [op.phase for op in graph.ops]
    assert phases == sorted(phases, key=["fwd", "bwd", "optim"].index)
    optim = [op for op in graph.ops if op.phase == "optim"]
    assert {op.target for op in optim} == {"hwsim.adamw_.default"}
    assert {op.op_class for op in optim} == {"optimizer"}
    n_params = len(list(build_model(load_workload("gpt-tiny-train").model, dtype="fp32").parameters()))
    assert len(optim) == n_params  # one fused update per parameter (tied embedding counted once)
    assert sum(op.flop for op in optim) == 14 * graph.params


def test_summarize_and_json_round_trip() -> None:
    graph = trace_workload(load_workload("llama-tiny-train"))
    s = summarize(graph)
    assert s["ops"] == len(graph.ops)
    assert sum(row["flop"] for row in s["by_phase"].values()) == pytest.approx(s["flop"])
    assert sum(row["ops"] for row in s["by_op_class"].values()) == s["ops"]
    assert set(s["by_phase"]) == {"fwd", "bwd", "optim"}
    assert s["memory"]["total"] == graph.memory.total and s["uncosted"] == {}
    again = Graph.from_json(graph.to_json())
    assert again == graph


def test_gqa_expansion_has_no_backward_ops() -> None:
    """Real kernels read K/V heads unexpanded: neither the expansion nor its backward sum is an op."""
    g = trace_workload(load_workload("llama-tiny-train"))  # 4 heads, 2 KV heads
    backward = [op for op in g.ops if op.phase == "bwd" and op.scope.endswith(".attn")]
    assert not [op for op in backward if op.target == "aten.sum.dim_IntList"]
    attention_bwd = [op for op in backward if op.op_class == "attention"]
    assert attention_bwd and all(op.deps for op in attention_bwd)


def test_rms_norm_carries_the_passes_its_eager_code_runs() -> None:
    """hwsim.trace.lowering: the passes are the ATen ops of hwsim.models.ops.rms_norm, costed by the rules."""
    g = trace_workload(load_workload("llama-tiny-train"))
    norm = next(op for op in g.ops if op.target == "hwsim.rms_norm.default")
    classes = [c for c, _, _ in norm.attrs["passes"]]
    assert classes == ["elementwise", "reduction", "elementwise", "elementwise", "elementwise", "elementwise"]
    x_bytes = norm.inputs[0].nbytes  # fp32: no dtype casts; pow reads x and writes x^2
    assert norm.attrs["passes"][0][2] == 2 * x_bytes
    assert sum(b for _, _, b in norm.attrs["passes"]) > 3 * norm.bytes  # unfused moves far more
    backward = next(op for op in g.ops if op.target == "hwsim.rms_norm_backward.default")
    assert len(backward.attrs["passes"]) == 9
