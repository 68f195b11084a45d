"""Building blocks of the zoo: norms, rotary embeddings, attention with a KV cache, MLPs, mixture of experts.

Plain torch so that the same module runs on the meta device (traced) and for real on a CPU or GPU.
Attention always calls `F.scaled_dot_product_attention` (the tracer turns it into the fused flash
kernel); grouped-query attention passes `enable_gqa=True` instead of materialising repeated heads.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hwsim.models import ops

__all__ = ["Attention", "GeluMLP", "KVCache", "MoE", "RMSNorm", "Rope", "SwiGLU"]

# One layer's cache: (keys, values), each [batch, kv_heads, capacity, head_dim].
KVCache = tuple[torch.Tensor, torch.Tensor]


class RMSNorm(nn.Module):
    """RMS norm (Zhang & Sennrich 2019) as one fused operator (see hwsim.models.ops)."""

    def __init__(self, dim: int, eps: float, *, dtype: torch.dtype) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim, dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ops.rms_norm(x, self.weight, self.eps)[0]


class Rope(nn.Module):
    """Rotary position tables cos/sin [T, head_dim] for positions start..start+T (Su et al. 2021).

    Computed once per forward at model level and shared by all layers, as Hugging Face Llama does;
    inverse frequencies theta^(-2i/d) are kept in fp32.
    """

    def __init__(self, head_dim: int, theta: float, *, dtype: torch.dtype) -> None:
        super().__init__()
        self.dtype = dtype
        inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        freqs = positions.float()[:, None] * self.inv_freq[None, :]
        angles = torch.cat((freqs, freqs), dim=-1)
        return angles.cos().to(self.dtype), angles.sin().to(self.dtype)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x * cos + rotate_half(x) * sin, x [B, H, T, d], tables [T, d] (the Hugging Face formulation)."""
    return x * cos + _rotate_half(x) * sin


class Attention(nn.Module):
    """Multi-head / grouped-query causal self-attention with an optional KV cache.

    `fused_qkv` uses one projection for q, k and v (GPT-2's c_attn, Megatron); otherwise wq, wk, wv
    (Meta's Llama). With a cache, the new keys and values are written into it in place
    (`copy_` into a slice) and attention reads the cache up to the last written position.
    """

    def __init__(
        self, hidden: int, heads: int, kv_heads: int, *, fused_qkv: bool, bias: bool, dtype: torch.dtype
    ) -> None:
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, hidden // heads
        q_out, kv_out = heads * self.head_dim, kv_heads * self.head_dim
        self.fused_qkv = fused_qkv
        if fused_qkv:
            self.wqkv = nn.Linear(hidden, q_out + 2 * kv_out, bias=bias, dtype=dtype)
        else:
            self.wq = nn.Linear(hidden, q_out, bias=bias, dtype=dtype)
            self.wk = nn.Linear(hidden, kv_out, bias=bias, dtype=dtype)
            self.wv = nn.Linear(hidden, kv_out, bias=bias, dtype=dtype)
        self.wo = nn.Linear(q_out, hidden, bias=bias, dtype=dtype)

    def forward(
        self,
        x: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
        cache: KVCache | None = None,
        start: int = 0,
    ) -> torch.Tensor:
        batch, seq, _ = x.shape
        d = self.head_dim
        if self.fused_qkv:
            q, k, v = self.wqkv(x).split([self.heads * d, self.kv_heads * d, self.kv_heads * d], dim=-1)
        else:
            q, k, v = self.wq(x), self.wk(x), self.wv(x)
        q = q.view(batch, seq, self.heads, d).transpose(1, 2)
        k = k.view(batch, seq, self.kv_heads, d).transpose(1, 2)
        v = v.view(batch, seq, self.kv_heads, d).transpose(1, 2)
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        if cache is not None:
            cache_k, cache_v = cache
            cache_k[:, :, start : start + seq].copy_(k)
            cache_v[:, :, start : start + seq].copy_(v)
            k, v = cache_k[:, :, : start + seq], cache_v[:, :, : start + seq]
        # Causal over a fresh sequence; a single new token (decode) attends to the whole cache.
        # (SDPA's is_causal aligns the mask top-left, so it must be off when start > 0.)
        causal = start == 0 and seq > 1
        out = F.scaled_dot_product_attention(
            q, k, v, is_causal=causal, enable_gqa=self.kv_heads != self.heads
        )
        return self.wo(out.transpose(1, 2).reshape(batch, seq, self.heads * d))


class GeluMLP(nn.Module):
    """GPT-2/GPT-3 feed-forward: fc2(gelu_tanh(fc1(x))) (GPT-2's "gelu_new" activation)."""

    def __init__(self, hidden: int, ffn_hidden: int, *, bias: bool, dtype: torch.dtype) -> None:
        super().__init__()
        self.fc1 = nn.Linear(hidden, ffn_hidden, bias=bias, dtype=dtype)
        self.fc2 = nn.Linear(ffn_hidden, hidden, bias=bias, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class SwiGLU(nn.Module):
    """Llama feed-forward: w2(silu(w1 x) * w3 x) (Shazeer 2020, arXiv:2002.05202)."""

    def __init__(self, hidden: int, ffn_hidden: int, *, dtype: torch.dtype) -> None:
        super().__init__()
        self.w1 = nn.Linear(hidden, ffn_hidden, bias=False, dtype=dtype)
        self.w3 = nn.Linear(hidden, ffn_hidden, bias=False, dtype=dtype)
        self.w2 = nn.Linear(ffn_hidden, hidden, bias=False, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class MoE(nn.Module):
    """Mixtral sparse MoE: softmax router, top-k experts per token, weights renormalised over the k.

    Routing follows Hugging Face MixtralSparseMoeBlock (router softmax in fp32, top-k, divide by the
    sum of the k weights). Token dispatch is the "uniform" assumption of the workload: token-slot
    s = token*k + j goes to expert s mod E, so every expert gets tokens*k/E rows and the expert
    matmuls have fixed shapes (on meta, where the router's choice is unknowable, and on real
    hardware alike). The gate weights are the router's real top-k weights.
    """

    def __init__(self, hidden: int, ffn_hidden: int, experts: int, top_k: int, *, dtype: torch.dtype) -> None:
        super().__init__()
        self.experts_n, self.top_k = experts, top_k
        self.router = nn.Linear(hidden, experts, bias=False, dtype=dtype)
        self.experts = nn.ModuleList(SwiGLU(hidden, ffn_hidden, dtype=dtype) for _ in range(experts))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        flat = x.reshape(-1, shape[-1])
        probs = F.softmax(self.router(flat), dim=-1, dtype=torch.float32)
        weights, _chosen = torch.topk(probs, self.top_k, dim=-1)
        weights = (weights / weights.sum(dim=-1, keepdim=True)).to(x.dtype).reshape(-1)
        out = torch.zeros_like(flat)
        slots = flat.shape[0] * self.top_k
        for e, expert in enumerate(self.experts):
            slot = torch.arange(e, slots, self.experts_n, device=x.device)
            token = torch.div(slot, self.top_k, rounding_mode="floor")
            rows = expert(flat.index_select(0, token)) * weights.index_select(0, slot)[:, None]
            out.index_add_(0, token, rows)
        return out.view(shape)
