"""The kernels hwsim's microbenchmarks time: how each kind is built, and its FLOP and bytes per call.

Each benchmark (`Bench`) is a kernel kind (`KERNELS`), a dtype and a shape; hwsim.calibrate.microbench
times it and hwsim.calibrate.fit turns the times into efficiencies against these counts.

FLOP and bytes per call (e = bytes per element; a multiply-add is 2 FLOP; bytes are what must move
to and from memory when nothing is on chip, as in hwsim.ir):
    gemm       (m, n, k)     C = A @ B, A m x k, B = W^T    flop 2mnk             bytes (mk + kn + mn) e
    residency  (m, n, k, MiB) the same GEMM cycling copies of its operands totalling MiB (its counts)
               (attention's q, k, v and dO are [b, s, h, d] memory seen as [b, h, s, d], as the
               model's head split leaves them: `_heads_view`)
    attention  (b, h, s, d)  fused causal SDPA forward      flop 2bhd s(s+1)      bytes 4bhsd e
               QK^T and PV are 2 FLOP per (query, key, channel) each, 4bhd per (query, key) pair; a
               causal mask keeps the s(s+1)/2 pairs with key <= query (the s^2/2 triangle plus the
               diagonal): 4bhd s(s+1)/2 = 4bhs^2d/2 + 2bhsd. Bytes: q, k, v read, o written; the
               scores never reach memory. (The tracer, hwsim.trace.rules, counts the same FLOPs:
               2 B H pairs (d_qk + d_v) with pairs = s(s+1)/2.)
    copy       (r, c)        dst.copy_(src)                 flop 0                bytes 2rc e
    add        (r, c)        c = a + b                      flop rc               bytes 3rc e
    softmax    (r, c)        softmax over the last dim      flop 5rc              bytes 2rc e
               (max, subtract, exp, sum, divide per element)
    layer_norm (r, c)        F.layer_norm with weight, bias flop 7rc              bytes (2rc + 2c) e
               (mean, centre, square, variance sum, normalise 1 each, scale and shift 2 per element)
    rms_norm   (r, c)        F.rms_norm with weight         flop 4rc              bytes (2rc + c) e
               (square 1, sum 1, scale by 1/rms 1, by weight 1 per element). On the CPU, torch 2.13
               runs F.rms_norm as six ATen ops (pow, mean, add, rsqrt, mul, mul); such a row's op_class
               says "norm as 6 ATen ops" and the fit leaves it out (the zoo's hwsim::rms_norm is
               costed as its passes where it runs unfused: hwsim.trace.lowering).
    attention_bwd    (b, h, s, d)  its backward kernel  flop 5bhd s(s+1)      bytes 8bhsd e
               (five GEMMs over the pairs, as hwsim.trace.rules: 2bh pairs (3d + 2d); reads dO, q,
               k, v, O, writes dq, dk, dv)
    attention_decode (b, h, kv, d) one query per sequence, no mask   flop 4bh kv d   bytes (2bhd + 2bh kv d) e
    gelu, gelu_tanh, silu (r, c)  the activation (exact or tanh GELU, SiLU)   flop 9rc, 9rc, 4rc  bytes 2rc e
    gelu_bwd, gelu_tanh_bwd, silu_bwd (r, c)  its backward kernel (dy, x -> dx)  flop 17rc, 17rc, 7rc
                                                                              bytes 3rc e
               (ACTIVATION_KINDS: each fits an `op_entries` entry of its own, hwsim.ir.OP_ENTRY_KEYS)
    rms_norm_op, rms_norm_op_bwd (r, c)  the zoo's hwsim::rms_norm op and its backward, as the tracer
               records them          flop 4rc, 9rc     bytes (2rc + c) e + 4r, (3rc + 2c) e + 4r
               (NORM_OP_KINDS: on a device where the op runs as Python passes its time on small rows is
               that implementation's per-call cost; each fits an `op_entries` entry)
    adamw      (r, c)        the zoo's fused AdamW step     flop 14rc             bytes 7rc e
               (hwsim::adamw_ on one fp32 or bf16 parameter, no master copy: reads param, grad and
               both moments, writes param and moments, as hwsim.trace.rules counts it)
    launch     (1,)          a one-element add: the per-op dispatch (CPU) or launch (CUDA) cost
    eager_train, eager_infer (width, tokens)  a chain of small modules run eagerly, training step or
               no-grad forward; the row is seconds per ATen op (hwsim.calibrate.eager)
    host_cold, host_cold_norm (width, rows)  a decoder-MLP chain whose GEMMs stream their weights;
               the row is what a small op (an ATen op; the RMS norm op) costs the host there beyond
               its hot time, its bytes one block's traffic (hwsim.calibrate.host_cold)
The memory-bound FLOP counts follow hwsim.trace.rules and are for the record only; the fit uses bytes
for those classes. Small per-row outputs (the fp32 logsumexp of attention, layer norm's mean and
1/std: 1/d and 1/c of the bytes) are not counted.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hwsim.calibrate.eager import EAGER_KINDS, build_eager
from hwsim.calibrate.host_cold import HOST_COLD_KINDS, build_host_cold, host_cold_counts

__all__ = ["ACTIVATION_KINDS", "ELEMENT_BYTES", "HOST_KINDS", "KERNELS", "MEMORY_KINDS", "NORM_OP_KINDS",
           "OP_ENTRY_KINDS", "SELF_CYCLING_KINDS", "Bench", "Kernel", "torch_dtype"]  # fmt: skip

# Element sizes of the dtypes benchmarked (tf32 is fp32 storage with TF32 tensor-core maths on CUDA).
ELEMENT_BYTES = {"fp32": 4, "tf32": 4, "bf16": 2, "fp16": 2}
HOST_KINDS = ("launch", *EAGER_KINDS, *HOST_COLD_KINDS)  # rows that time the host, not a kernel: no copies
SELF_CYCLING_KINDS = ("residency",)  # rows that cycle their own operand copies (no other copies)


def torch_dtype(name: str):
    import torch

    return {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[name]


@dataclass(frozen=True, slots=True, kw_only=True)
class Bench:
    """One measurement to take: a kernel kind, a dtype name (fp32, tf32, bf16, fp16) and a shape."""

    kind: str
    dtype: str
    shape: tuple[int, ...]

    @property
    def shape_text(self) -> str:
        return "x".join(str(s) for s in self.shape)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.dtype, self.shape_text)


Counts = Callable[[tuple[int, ...], int], tuple[float, float]]
Build = Callable[[tuple[int, ...], Any, str], Callable[[], Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Kernel:
    """How to benchmark one kind: its hwsim.ir op class, its (flop, bytes) formula and a builder.

    `build(shape, torch_dtype, device)` allocates the inputs and returns the zero-argument call to time.
    """

    op_class: str
    counts: Counts
    build: Build


RANDOM_BLOCK = 2**20  # elements drawn at random; a larger operand repeats them (see _rand)


def _rand(shape: tuple[int, ...], dtype: Any, device: str):
    """Normal random values; past RANDOM_BLOCK elements a block of them tiled. A streaming row cycles
    through 1.5x the last-level cache of copies (450 MiB on a 300 MiB L3): drawing them all took
    about 100 s per sweep pass on one core, tiling takes a copy's time. A kernel's speed does not
    depend on the values repeating (no kernel here looks at more than the value in hand)."""
    import torch

    numel = math.prod(shape)
    if numel <= RANDOM_BLOCK:
        return torch.randn(shape, dtype=dtype, device=device)
    block = torch.randn(RANDOM_BLOCK, dtype=dtype, device=device)
    return block.repeat(-(-numel // RANDOM_BLOCK))[:numel].view(shape)


def _gemm(shape, dtype, device):
    import torch

    m, n, k = shape
    # B is a transposed [n, k] weight, the layout nn.Linear's forward hands to the GEMM (x @ W^T):
    # a skinny (decode) GEMM streams it, and the streaming rate depends on the layout.
    # The output is preallocated: on a CPU, glibc serves an allocation above its 32 MiB mmap ceiling
    # with fresh pages, and first-touch faults then cost more than the product (a 4096x4096x128 fp32
    # GEMM took 70 ms with a fresh 64 MiB output, 27 ms at the roof), which model-sized outputs do not
    # pay. The memory-bound kinds allocate; their size curves carry that cost where it occurs.
    a, w, c = _rand((m, k), dtype, device), _rand((n, k), dtype, device), _rand((m, n), dtype, device)
    b = w.t()
    return lambda: torch.mm(a, b, out=c)


def _residency(shape, dtype, device):
    """A skinny GEMM (as `_gemm`) cycling through copies of its operands totalling `megabytes` MiB:
    how much faster a streaming kernel runs when a step's traffic fits in the cache it really gets
    (hwsim.calibrate.fit: the `residency` curve)."""
    import itertools

    m, n, k, megabytes = shape
    copies = max(1, megabytes * 2**20 // ((m * k + n * k + m * n) * dtype.itemsize))
    calls = itertools.cycle([_gemm((m, n, k), dtype, device) for _ in range(copies)])
    return lambda: next(calls)()


def _heads_view(shape: tuple[int, ...], dtype: Any, device: str):
    """A [b, h, s, d] tensor laid out as a model hands it to attention: [b, s, h, d] memory, the head
    split of a projection's output, transposed (hwsim.models.layers.Attention)."""
    b, h, s, d = shape
    return _rand((b, s, h, d), dtype, device).transpose(1, 2)


def _flash_forward(device: str):
    """The fused flash forward kernel itself, as the tracer records it: no math-path fallback can hide."""
    import torch

    aten = torch.ops.aten
    return (
        aten._scaled_dot_product_flash_attention_for_cpu
        if device == "cpu"
        else aten._scaled_dot_product_flash_attention
    )


def _attention(shape, dtype, device):
    q, k, v = (_heads_view(shape, dtype, device) for _ in range(3))
    op = _flash_forward(device)
    return lambda: op(q, k, v, 0.0, True)


def _attention_backward(shape, dtype, device):
    """The fused causal attention backward kernel alone, on the forward's own output and logsumexp."""
    import torch

    q, k, v, grad = (_heads_view(shape, dtype, device) for _ in range(4))
    if device == "cpu":
        out, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(q, k, v, 0.0, True)
        op = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward
        return lambda: op(grad, q, k, v, out, lse, 0.0, True)
    forward = torch.ops.aten._scaled_dot_product_flash_attention
    out, lse, cum_q, cum_k, max_q, max_k, seed, offset, _ = forward(q, k, v, 0.0, True)
    op = torch.ops.aten._scaled_dot_product_flash_attention_backward
    return lambda: op(grad, q, k, v, out, lse, cum_q, cum_k, max_q, max_k, 0.0, True, seed, offset)


def _attention_decode(shape, dtype, device):
    """One new query per sequence against a KV cache of `kv` positions (no mask), as decode runs it."""
    b, h, kv, d = shape
    q, k, v = _rand((b, h, 1, d), dtype, device), _rand(shape, dtype, device), _rand(shape, dtype, device)
    op = _flash_forward(device)
    return lambda: op(q, k, v, 0.0, False)


def _copy(shape, dtype, device):
    src, dst = _rand(shape, dtype, device), _rand(shape, dtype, device)
    return lambda: dst.copy_(src)


def _add(shape, dtype, device):
    import torch

    a, b = (_rand(shape, dtype, device) for _ in range(2))
    return lambda: torch.add(a, b)


def _launch(shape, dtype, device):
    """The least an op costs the host: a one-element add into a preallocated output, no allocation."""
    import torch

    a, b, c = (_rand(shape, dtype, device) for _ in range(3))
    return lambda: torch.add(a, b, out=c)


def _softmax(shape, dtype, device):
    import torch

    x = _rand(shape, dtype, device)
    return lambda: torch.softmax(x, dim=-1)


def _layer_norm(shape, dtype, device):
    import torch.nn.functional as F

    x, w, b = _rand(shape, dtype, device), _rand(shape[-1:], dtype, device), _rand(shape[-1:], dtype, device)
    return lambda: F.layer_norm(x, shape[-1:], w, b)


def _rms_norm(shape, dtype, device):
    import torch.nn.functional as F

    x, w = _rand(shape, dtype, device), _rand(shape[-1:], dtype, device)
    return lambda: F.rms_norm(x, shape[-1:], w)


def _adamw(shape, dtype, device):
    """One fused AdamW step on one parameter, as the zoo's hwsim::adamw_ runs it (hwsim.models.ops)."""
    from hwsim.models import ops

    param, grad = _rand(shape, dtype, device), _rand(shape, dtype, device)
    exp_avg, exp_avg_sq = _rand(shape, dtype, device), _rand(shape, dtype, device).abs()
    return lambda: ops.adamw_(param, grad, None, exp_avg, exp_avg_sq, 1e-4, 0.9, 0.95, 1e-8, 0.1, 10)


def _activation(kind: str) -> Callable[..., Callable[[], Any]]:
    """An activation (forward or backward) as ATen runs it for the zoo's models: one kernel per call."""

    def build(shape, dtype, device):
        import torch

        aten = torch.ops.aten
        approximate = "tanh" if kind.startswith("gelu_tanh") else "none"
        x, g = _rand(shape, dtype, device), _rand(shape, dtype, device)
        if kind.startswith("gelu"):
            if kind.endswith("_bwd"):
                return lambda: aten.gelu_backward.default(g, x, approximate=approximate)
            return lambda: aten.gelu.default(x, approximate=approximate)
        if kind.endswith("_bwd"):
            return lambda: aten.silu_backward.default(g, x)
        return lambda: aten.silu.default(x)

    return build


# Activation kinds and the hwsim.ir.OP_ENTRY_KEYS entry each fits; FLOP per element as hwsim.trace.rules.
ACTIVATION_KINDS: dict[str, tuple[str, float]] = {
    "gelu": ("aten.gelu.default", 9.0),
    "gelu_tanh": ("aten.gelu.default[tanh]", 9.0),
    "gelu_bwd": ("aten.gelu_backward.default", 17.0),
    "gelu_tanh_bwd": ("aten.gelu_backward.default[tanh]", 17.0),
    "silu": ("aten.silu.default", 4.0),
    "silu_bwd": ("aten.silu_backward.default", 7.0),
}
# The zoo's RMS norm ops, timed as the op itself (its per-call cost where it runs as Python passes).
NORM_OP_KINDS: dict[str, tuple[str, float]] = {
    "rms_norm_op": ("hwsim.rms_norm.default", 4.0),
    "rms_norm_op_bwd": ("hwsim.rms_norm_backward.default", 9.0),
}
OP_ENTRY_KINDS = {**ACTIVATION_KINDS, **NORM_OP_KINDS}  # kinds that fit an op entry of their own


def _activation_counts(kind: str) -> Callable[[tuple[int, ...], int], tuple[float, float]]:
    per_element = ACTIVATION_KINDS[kind][1]
    tensors = 3.0 if kind.endswith("_bwd") else 2.0  # forward: x in, y out; backward: dy and x in, dx out
    return lambda s, e: (per_element * _n(s), tensors * _n(s) * e)


def _norm_op(kind: str) -> Callable[..., Callable[[], Any]]:
    """hwsim::rms_norm (or its backward) called as the op the tracer records, on (rows, cols)."""

    def build(shape, dtype, device):
        import torch

        import hwsim.models.ops  # noqa: F401 - registers torch.ops.hwsim

        x, weight = _rand(shape, dtype, device), _rand(shape[-1:], dtype, device)
        if kind == "rms_norm_op":
            return lambda: torch.ops.hwsim.rms_norm.default(x, weight, 1e-5)
        grad = _rand(shape, dtype, device)
        rstd = torch.ops.hwsim.rms_norm.default(x, weight, 1e-5)[1]
        return lambda: torch.ops.hwsim.rms_norm_backward.default(grad, x, weight, rstd)

    return build


def _norm_op_counts(kind: str) -> Callable[[tuple[int, ...], int], tuple[float, float]]:
    """Bytes as the tracer counts the op: every input read, every output written; the per-row 1/rms is
    fp32. Forward: x, weight -> y, rstd; backward: grad, x, weight, rstd -> dx, dweight."""
    per_element = NORM_OP_KINDS[kind][1]

    def counts(s: tuple[int, ...], e: int) -> tuple[float, float]:
        n, cols = _n(s), s[-1]
        rows = n // cols
        moved = (2 * n + cols) * e + 4 * rows if kind == "rms_norm_op" else (3 * n + 2 * cols) * e + 4 * rows
        return per_element * n, float(moved)

    return counts


def _n(shape: tuple[int, ...]) -> int:
    out = 1
    for s in shape:
        out *= s
    return out


def _gemm_counts(s: tuple[int, ...], e: int) -> tuple[float, float]:
    m, n, k = s
    return 2.0 * m * n * k, float((m * k + k * n + m * n) * e)


def _attention_counts(s: tuple[int, ...], e: int) -> tuple[float, float]:
    b, h, q, d = s
    return 2.0 * b * h * d * q * (q + 1), 4.0 * b * h * q * d * e


def _attention_backward_counts(s: tuple[int, ...], e: int) -> tuple[float, float]:
    # Five GEMMs over the causal pairs (hwsim.trace.rules); reads dO, q, k, v, O, writes dq, dk, dv.
    b, h, q, d = s
    return 5.0 * b * h * d * q * (q + 1), 8.0 * b * h * q * d * e


def _attention_decode_counts(s: tuple[int, ...], e: int) -> tuple[float, float]:
    b, h, kv, d = s  # QK^T and PV over kv keys for one query; reads q, K, V, writes o
    return 4.0 * b * h * kv * d, (2.0 * b * h * d + 2.0 * b * h * kv * d) * e


KERNELS: dict[str, Kernel] = {
    "gemm": Kernel(op_class="matmul", build=_gemm, counts=_gemm_counts),
    "residency": Kernel(op_class="matmul", build=_residency, counts=lambda s, e: _gemm_counts(s[:3], e)),
    "attention": Kernel(op_class="attention", build=_attention, counts=_attention_counts),
    "attention_bwd": Kernel(op_class="attention", build=_attention_backward,
                            counts=_attention_backward_counts),
    "attention_decode": Kernel(op_class="attention", build=_attention_decode,
                               counts=_attention_decode_counts),
    **{kind: Kernel(op_class="host", build=build_eager(kind), counts=lambda s, e: (0.0, 0.0))
       for kind in EAGER_KINDS},
    **{kind: Kernel(op_class="host", build=build_host_cold(kind), counts=host_cold_counts)
       for kind in HOST_COLD_KINDS},
    "copy": Kernel(op_class="copy", build=_copy, counts=lambda s, e: (0.0, 2.0 * _n(s) * e)),
    "add": Kernel(op_class="elementwise", build=_add, counts=lambda s, e: (float(_n(s)), 3.0 * _n(s) * e)),
    "softmax": Kernel(op_class="softmax", build=_softmax, counts=lambda s, e: (5.0 * _n(s), 2.0 * _n(s) * e)),
    "layer_norm": Kernel(op_class="norm", build=_layer_norm,
                         counts=lambda s, e: (7.0 * _n(s), float((2 * _n(s) + 2 * s[-1]) * e))),
    "rms_norm": Kernel(op_class="norm", build=_rms_norm,
                       counts=lambda s, e: (4.0 * _n(s), float((2 * _n(s) + s[-1]) * e))),
    "adamw": Kernel(op_class="optimizer", build=_adamw,
                    counts=lambda s, e: (14.0 * _n(s), 7.0 * _n(s) * e)),
    "launch": Kernel(op_class="elementwise", build=_launch,
                     counts=lambda s, e: (float(_n(s)), 3.0 * _n(s) * e)),
    **{kind: Kernel(op_class="elementwise", build=_activation(kind), counts=_activation_counts(kind))
       for kind in ACTIVATION_KINDS},
    **{kind: Kernel(op_class="norm", build=_norm_op(kind), counts=_norm_op_counts(kind))
       for kind in NORM_OP_KINDS},
}  # fmt: skip
MEMORY_KINDS = ("copy", "add", "softmax", "layer_norm", "rms_norm", "adamw")  # swept over every size
