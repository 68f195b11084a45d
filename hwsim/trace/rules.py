"""Cost rules: for each ATen overload, its op class, FLOPs (2 per multiply-add) and bytes moved.

A rule sees one executed call (`Call`: the overload, its arguments by schema name, input and output
tensors, and a hint from the tracer) and returns a `Cost`. Bytes default to the roofline convention
of hwsim.ir: every tensor argument read once, every output written once, where a broadcast
(stride-0) dimension is read only once. An overload without a rule is class "other", costed as
memory-bound on those default bytes, and marked `costed=False` so that estimates list it.

Matmul and attention FLOPs follow torch.utils.flop_counter (so FlopCounterMode agrees op by op),
except that causal attention counts only the unmasked (query, key) pairs. Pointwise FLOPs count one
FLOP per arithmetic operation of the formula per output element, a transcendental function as one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["RULES", "Call", "Cost", "attention_pairs", "evaluate", "rule", "tensor_bytes"]


def tensor_bytes(t: torch.Tensor) -> float:
    """Bytes of a tensor as a kernel reads or writes it: broadcast (stride-0) dimensions count once."""
    n = 1
    for size, stride in zip(t.shape, t.stride(), strict=True):
        if stride != 0:
            n *= size
    return float(n * t.element_size())


@dataclass(slots=True)
class Call:
    """One executed operator as a rule sees it."""

    target: str  # "aten.mm.default"
    named: Mapping[str, Any]  # every argument by its schema name, defaults filled in
    inputs: list[torch.Tensor]  # tensor arguments in order
    outputs: list[torch.Tensor]  # tensor results in order
    hint: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"kv_heads": 8} for GQA attention

    def reads(self) -> float:
        return sum(tensor_bytes(t) for t in self.inputs)

    def writes(self) -> float:
        return sum(tensor_bytes(t) for t in self.outputs)


@dataclass(frozen=True, slots=True)
class Cost:
    """What a rule says; bytes None means the default (sum of inputs / sum of outputs)."""

    op_class: str
    flop: float = 0.0
    bytes_read: float | None = None
    bytes_written: float | None = None
    attrs: Mapping[str, Any] = field(default_factory=dict)


Rule = Callable[[Call], Cost]
RULES: dict[str, Rule] = {}


def rule(*targets: str) -> Callable[[Rule], Rule]:
    """Register a rule for one or more ATen overloads ("aten.mm.default")."""

    def register(fn: Rule) -> Rule:
        for target in targets:
            RULES[target] = fn
        return fn

    return register


def evaluate(call: Call) -> tuple[Cost, bool]:
    """(cost with bytes resolved, costed?) for one call."""
    fn = RULES.get(call.target)
    if fn is None:
        return Cost("other", 0.0, call.reads(), call.writes()), False
    cost = fn(call)
    read = call.reads() if cost.bytes_read is None else cost.bytes_read
    written = call.writes() if cost.bytes_written is None else cost.bytes_written
    return Cost(cost.op_class, float(cost.flop), float(read), float(written), cost.attrs), True


def _numel(t: torch.Tensor) -> int:
    return t.numel()


# --- matmul: torch.utils.flop_counter mm_flop / addmm_flop / bmm_flop / baddbmm_flop --------------


@rule("aten.mm.default")
def _mm(c: Call) -> Cost:
    a, b = c.named["self"], c.named["mat2"]
    m, k, n = a.shape[0], a.shape[1], b.shape[1]
    return Cost("matmul", 2.0 * m * k * n, attrs={"m": m, "n": n, "k": k, "batch": 1})


@rule("aten.addmm.default")
def _addmm(c: Call) -> Cost:
    # The bias add is folded into the GEMM epilogue; FlopCounterMode counts only the product.
    a, b = c.named["mat1"], c.named["mat2"]
    m, k, n = a.shape[0], a.shape[1], b.shape[1]
    return Cost("matmul", 2.0 * m * k * n, attrs={"m": m, "n": n, "k": k, "batch": 1})


@rule("aten.bmm.default", "aten.baddbmm.default")
def _bmm(c: Call) -> Cost:
    a = c.named["self"] if c.target == "aten.bmm.default" else c.named["batch1"]
    b = c.named["mat2"] if c.target == "aten.bmm.default" else c.named["batch2"]
    batch, m, k, n = a.shape[0], a.shape[1], a.shape[2], b.shape[2]
    return Cost("matmul", 2.0 * batch * m * k * n, attrs={"m": m, "n": n, "k": k, "batch": batch})


# --- fused attention -------------------------------------------------------------------------------


def attention_pairs(q_len: int, kv_len: int, causal: bool) -> int:
    """(query, key) pairs a kernel computes. Causal masks align top-left as in SDPA's is_causal:
    query i sees keys 0..i, so pairs = sum_{i<Lq} min(i+1, Lk) (= Lq(Lq+1)/2 when Lq == Lk, about
    half of the full Lq*Lk, which is what FlopCounterMode counts)."""
    if not causal:
        return q_len * kv_len
    if q_len <= kv_len:
        return q_len * (q_len + 1) // 2
    return kv_len * (kv_len + 1) // 2 + (q_len - kv_len) * kv_len


def _attention(c: Call, *, backward: bool) -> Cost:
    """Flash/memory-efficient attention (Dao et al. 2022): never writes the score matrix.

    Forward FLOPs = 2*B*H*pairs*(d_qk + d_v) (QK^T and PV); backward = 2*B*H*pairs*(3*d_qk + 2*d_v):
    the five GEMMs of torch.utils.flop_counter.sdpa_backward_flop_count, which include recomputing
    QK^T (reported as attrs["recompute_flop"], hardware not model FLOPs). With grouped-query
    attention (hint kv_heads) the kernel reads K and V once per KV head, not per query head.
    """
    q, k, v = c.named["query"], c.named["key"], c.named["value"]
    batch, heads, q_len, d_qk = q.shape
    kv_len, d_v = k.shape[2], v.shape[3]
    causal = bool(c.named.get("is_causal", False))
    pairs = attention_pairs(q_len, kv_len, causal)
    kv_heads = int(c.hint.get("kv_heads", heads))
    share = kv_heads / heads
    kv_bytes = (tensor_bytes(k) + tensor_bytes(v)) * share
    others = [t for t in c.inputs if t is not k and t is not v]
    read = kv_bytes + sum(tensor_bytes(t) for t in others)
    attrs: dict[str, Any] = {
        "batch": batch,
        "heads": heads,
        "kv_heads": kv_heads,
        "q_len": q_len,
        "kv_len": kv_len,
        "head_dim": d_qk,
        "causal": causal,
        "causal_fraction": pairs / (q_len * kv_len),
    }
    if backward:
        attrs["recompute_flop"] = 2.0 * batch * heads * pairs * d_qk
        return Cost("attention", 2.0 * batch * heads * pairs * (3 * d_qk + 2 * d_v), read, None, attrs)
    return Cost("attention", 2.0 * batch * heads * pairs * (d_qk + d_v), read, None, attrs)


@rule(
    "aten._scaled_dot_product_flash_attention.default",
    "aten._scaled_dot_product_efficient_attention.default",
    "aten._scaled_dot_product_flash_attention_for_cpu.default",
    "aten._scaled_dot_product_cudnn_attention.default",
)
def _attention_forward(c: Call) -> Cost:
    return _attention(c, backward=False)


@rule(
    "aten._scaled_dot_product_flash_attention_backward.default",
    "aten._scaled_dot_product_efficient_attention_backward.default",
    "aten._scaled_dot_product_flash_attention_for_cpu_backward.default",
    "aten._scaled_dot_product_cudnn_attention_backward.default",
)
def _attention_backward(c: Call) -> Cost:
    return _attention(c, backward=True)


# --- pointwise -------------------------------------------------------------------------------------

# FLOPs per output element, one per arithmetic operation of the formula:
_POINTWISE: dict[str, float] = {
    **dict.fromkeys(
        (
            "add",
            "sub",
            "mul",
            "div",
            "neg",
            "rsqrt",
            "sqrt",
            "exp",
            "log",
            "cos",
            "sin",
            "tanh",
            "sigmoid",
            "reciprocal",
            "pow",
            "abs",
            "maximum",
            "minimum",
            "where",
            "masked_fill",
            "clamp",
        ),
        1.0,
    ),
    "addcmul": 3.0,  # a + v * b * c
    "addcdiv": 3.0,  # a + v * b / c
    "lerp": 3.0,  # a + w * (b - a)
    "silu": 4.0,  # x / (1 + exp(-x)): neg, exp, add, div
    "silu_backward": 7.0,  # g * s * (1 + x * (1 - s)), s = sigmoid(x) (4)
    "sigmoid_backward": 3.0,  # g * y * (1 - y)
    "tanh_backward": 3.0,  # g * (1 - y^2)
    # gelu, tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): x^3 (2), fma (2), scale,
    # tanh, add, two muls = 9; exact erf form counted the same.
    "gelu": 9.0,
    "gelu_backward": 17.0,  # the tanh form's derivative: recompute (9) plus 8 for the chain rule
    "threshold_backward": 1.0,
}
_OVERLOADS = (
    "default",
    "Tensor",
    "Scalar",
    "Tensor_Scalar",
    "Tensor_Tensor",
    "Tensor_mode",
    "Scalar_mode",
    "self",
    "ScalarOther",
)


def _pointwise(per_element: float) -> Rule:
    def cost(c: Call) -> Cost:
        n = sum(_numel(t) for t in c.outputs) or max((_numel(t) for t in c.inputs), default=0)
        # GELU's tanh form costs 7x its exact form on a CPU core (hwsim.ir.POINTWISE_KEYS): keep which
        approximate = c.named.get("approximate")
        attrs = {"approximate": approximate} if approximate not in (None, "none") else {}
        return Cost("elementwise", per_element * n, attrs=attrs)

    return cost


def _register_pointwise() -> None:
    for name, flop in _POINTWISE.items():
        for overload in _OVERLOADS:
            rule(f"aten.{name}.{overload}", f"aten.{name}_.{overload}")(_pointwise(flop))


_register_pointwise()


@rule(
    "aten.arange.default",
    "aten.arange.start",
    "aten.arange.start_step",
    "aten.zeros.default",
    "aten.zeros_like.default",
    "aten.ones.default",
    "aten.ones_like.default",
    "aten.full.default",
    "aten.full_like.default",
    "aten.new_zeros.default",
    "aten.new_ones.default",
    "aten.new_full.default",
    "aten.fill_.Scalar",
    "aten.fill_.Tensor",
    "aten.zero_.default",
    "aten.scalar_tensor.default",
)
def _fill(c: Call) -> Cost:
    """Creating or filling a tensor writes it and reads nothing."""
    written = c.writes() or sum(tensor_bytes(t) for t in c.inputs[:1])
    return Cost("elementwise", 0.0, 0.0, written)


# --- copies ----------------------------------------------------------------------------------------


@rule("aten.copy_.default")
def _copy_(c: Call) -> Cost:
    """dst.copy_(src): reads src, writes dst (only the slice a KV-cache write targets)."""
    return Cost("copy", 0.0, tensor_bytes(c.named["src"]), tensor_bytes(c.named["self"]))


@rule(
    "aten.clone.default",
    "aten._to_copy.default",
    "aten.cat.default",
    "aten.stack.default",
    "aten.slice_scatter.default",
    "aten.select_scatter.default",
    "aten.contiguous.default",
    "aten._reshape_copy.default",
    "aten.repeat.default",
    "aten.slice_backward.default",
    "aten.select_backward.default",
    "aten.expand_copy.default",
    "aten.permute_copy.default",
)
def _copy(c: Call) -> Cost:
    return Cost("copy")


# --- reductions, softmax, norms ------------------------------------------------------------------


@rule(
    "aten.sum.default",
    "aten.sum.dim_IntList",
    "aten.mean.default",
    "aten.mean.dim",
    "aten.amax.default",
    "aten.max.dim",
    "aten.topk.default",
    "aten.sort.default",
    "aten.any.dim",
    "aten.all.dim",
)
def _reduction(c: Call) -> Cost:
    """One operation per input element."""
    return Cost("reduction", float(sum(_numel(t) for t in c.inputs[:1])))


# softmax: max, subtract, exp, sum, divide = 5 per element; its backward y * (g - sum(g * y)) = 4;
# log-softmax: max, subtract, exp, sum, subtract log = 5; backward g - exp(y) * sum(g) = 4.
_SOFTMAX = {
    "_softmax": 5.0,
    "_softmax_backward_data": 4.0,
    "_log_softmax": 5.0,
    "_log_softmax_backward_data": 4.0,
}


def _softmax(per_element: float) -> Rule:
    return lambda c: Cost("softmax", per_element * sum(_numel(t) for t in c.outputs))


for _name, _flop in _SOFTMAX.items():
    rule(f"aten.{_name}.default")(_softmax(_flop))


# layer norm: mean (1), centre (1), square (1), variance sum (1), normalise (1), scale and shift (2)
# = 7 per element; its backward (Ba et al. 2016): 2 row sums (2), recompute x_hat (2), the
# dx formula (4) and the weight/bias gradients (3) = 11.
# RMS norm: square, sum, normalise, scale = 4; backward (see hwsim.models.ops) = 9.
_NORM = {
    "aten.native_layer_norm.default": 7.0,
    "aten.native_layer_norm_backward.default": 11.0,
    "hwsim.rms_norm.default": 4.0,
    "hwsim.rms_norm_backward.default": 9.0,
}


def _norm(per_element: float) -> Rule:
    return lambda c: Cost("norm", per_element * _numel(c.inputs[0]))


for _name, _flop in _NORM.items():
    rule(_name)(_norm(_flop))


# --- gathers and scatters ------------------------------------------------------------------------


@rule("aten.embedding.default", "aten.index_select.default", "aten.index.Tensor", "aten.gather.default")
def _gather(c: Call) -> Cost:
    """A gather reads the index and only the rows it selects (output-sized), not the whole table."""
    index_bytes = sum(tensor_bytes(t) for t in c.inputs[1:])
    return Cost("embedding", 0.0, index_bytes + c.writes(), c.writes())


@rule("aten.embedding_dense_backward.default")
def _embedding_backward(c: Call) -> Cost:
    """Scatter-add of the output gradient into a zeroed [vocab, hidden] gradient: one add per element."""
    grad = c.named["grad_output"]
    return Cost("embedding", float(_numel(grad)))


@rule(
    "aten.index_add_.default",
    "aten.index_add.default",
    "aten.index_copy_.default",
    "aten.index_copy.default",
    "aten.index_put_.default",
    "aten.index_put.default",
    "aten.scatter_add_.default",
    "aten.scatter_add.default",
    "aten.scatter_.src",
    "aten.scatter.src",
    "aten.scatter_.value",
    "aten.scatter.value",
)
def _scatter(c: Call) -> Cost:
    """Scatter rows (or values) into `self`: reads the index and the source, and for an add also the
    target rows; writes the target rows. An out-of-place variant also copies `self` through first."""
    n = c.named
    target = n["self"]
    index = [t for t in c.inputs[1:] if not t.is_floating_point()]
    source = next((t for t in c.inputs[1:] if t.is_floating_point()), None)
    moved = (
        tensor_bytes(source) if source is not None else sum(t.numel() for t in index) * target.element_size()
    )
    adds = "add" in c.target
    read = sum(tensor_bytes(t) for t in index) + moved * (2 if adds else 1)
    written = moved
    if not c.target.split(".")[1].endswith("_"):  # out of place: copy self, then scatter
        read += tensor_bytes(target)
        written = tensor_bytes(target)
    flop = float(source.numel()) if adds and source is not None else 0.0
    return Cost("embedding", flop, read, written)


@rule("aten.nll_loss_forward.default")
def _nll_forward(c: Call) -> Cost:
    """Gathers one log-probability per row and sums them: reads the targets and N values."""
    log_probs, target = c.named["self"], c.named["target"]
    rows = _numel(target)
    return Cost("reduction", float(rows), tensor_bytes(target) + rows * log_probs.element_size(), None)


@rule("aten.nll_loss_backward.default")
def _nll_backward(c: Call) -> Cost:
    """Writes a zero gradient with -1/N scattered at each target."""
    target = c.named["target"]
    return Cost(
        "embedding", float(_numel(target)), tensor_bytes(target) + tensor_bytes(c.named["grad_output"]), None
    )


# --- the optimizer -------------------------------------------------------------------------------

# AdamW per element, as hwsim.models.ops.adamw_ computes it: weight decay (1), first moment lerp (3),
# second moment mul + addcmul (4), sqrt / bias-correction divide / + eps (3), addcdiv (3) = 14.
_ADAMW_FLOP_PER_ELEMENT = 14.0


@rule("hwsim.adamw_.default")
def _adamw(c: Call) -> Cost:
    """Fused AdamW (one kernel per parameter): reads grad, weights (the fp32 master under mixed
    precision) and both moments; writes weights and moments, and the low-precision parameter copy."""
    n = c.named
    master = n["master"]
    weights = master if master is not None else n["param"]
    state = tensor_bytes(n["exp_avg"]) + tensor_bytes(n["exp_avg_sq"])
    read = tensor_bytes(n["grad"]) + tensor_bytes(weights) + state
    written = tensor_bytes(weights) + state + (tensor_bytes(n["param"]) if master is not None else 0.0)
    return Cost(
        "optimizer",
        _ADAMW_FLOP_PER_ELEMENT * _numel(n["param"]),
        read,
        written,
        {"mixed_precision": master is not None},
    )
