"""The zoo's decoder-only Transformer, configured per family (GPT, Llama, Mixtral) from dimensions alone.

- gpt: GPT-2 (Radford et al. 2019) / GPT-3 (Brown et al. 2020): learned positions, pre-LayerNorm,
  fused QKV projection, GELU MLP, biases, tied input/output embeddings (GPT-3 "uses the same model
  and architecture as GPT-2").
- llama: Llama 2/3 (Touvron et al. 2023; Dubey et al. 2024): RMSNorm, RoPE, SwiGLU, grouped-query
  attention, no biases, untied embeddings.
- mixtral: Mixtral 8x7B (Jiang et al. 2024): Llama with the FFN replaced by a top-k MoE.

`forward(tokens, cache=None, start=0, last_only=False)` maps token ids [batch, seq] to logits.
With a cache (one `KVCache` per layer) the keys/values of positions start..start+seq are written into
it; `last_only` computes logits for the last position only, as serving engines do after prefill.
No dropout: current LLM pre-training runs without it (Llama, GPT-NeoX), and it is 0 at inference.
"""

from __future__ import annotations

import torch
from torch import nn

from hwsim.models.config import ModelSpec
from hwsim.models.layers import Attention, GeluMLP, KVCache, MoE, RMSNorm, Rope, SwiGLU

__all__ = ["Block", "Transformer"]


class Block(nn.Module):
    """One pre-norm residual block: x + attn(norm(x)), then h + ffn(norm(h))."""

    def __init__(self, spec: ModelSpec, *, dtype: torch.dtype) -> None:
        super().__init__()
        h = spec.hidden
        gpt = spec.family == "gpt"
        kv_heads = spec.kv_heads or spec.heads
        if gpt:
            self.attn_norm = nn.LayerNorm(h, eps=spec.norm_eps, bias=spec.bias, dtype=dtype)
            self.ffn_norm = nn.LayerNorm(h, eps=spec.norm_eps, bias=spec.bias, dtype=dtype)
        else:
            self.attn_norm = RMSNorm(h, spec.norm_eps, dtype=dtype)
            self.ffn_norm = RMSNorm(h, spec.norm_eps, dtype=dtype)
        self.attn = Attention(h, spec.heads, kv_heads, fused_qkv=gpt, bias=spec.bias, dtype=dtype)
        if spec.family == "mixtral":
            self.ffn: nn.Module = MoE(h, spec.ffn_hidden, spec.experts, spec.top_k, dtype=dtype)
        elif gpt:
            self.ffn = GeluMLP(h, spec.ffn_hidden, bias=spec.bias, dtype=dtype)
        else:
            self.ffn = SwiGLU(h, spec.ffn_hidden, dtype=dtype)

    def forward(
        self,
        x: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor] | None,
        cache: KVCache | None,
        start: int,
    ) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x), rope, cache, start)
        return x + self.ffn(self.ffn_norm(x))


class Transformer(nn.Module):
    """Embedding, `layers` blocks, final norm and LM head; see the module docstring."""

    def __init__(self, spec: ModelSpec, *, dtype: torch.dtype, layers: int | None = None) -> None:
        super().__init__()
        self.spec = spec
        n_layers = spec.layers if layers is None else layers
        gpt = spec.family == "gpt"
        self.embed = nn.Embedding(spec.vocab, spec.hidden, dtype=dtype)
        self.pos_embed = nn.Embedding(spec.seq_len, spec.hidden, dtype=dtype) if gpt else None
        self.rope = None if gpt else Rope(spec.head_dim, spec.rope_theta, dtype=dtype)
        self.layers = nn.ModuleList(Block(spec, dtype=dtype) for _ in range(n_layers))
        if gpt:
            self.norm: nn.Module = nn.LayerNorm(spec.hidden, eps=spec.norm_eps, bias=spec.bias, dtype=dtype)
        else:
            self.norm = RMSNorm(spec.hidden, spec.norm_eps, dtype=dtype)
        self.lm_head = nn.Linear(spec.hidden, spec.vocab, bias=False, dtype=dtype)
        if spec.tie_embeddings:
            self.lm_head.weight = self.embed.weight

    def forward(
        self,
        tokens: torch.Tensor,
        cache: list[KVCache] | None = None,
        start: int = 0,
        last_only: bool = False,
    ) -> torch.Tensor:
        seq = tokens.shape[1]
        if start + seq > self.spec.seq_len:
            raise ValueError(f"positions up to {start + seq} exceed the model's {self.spec.seq_len}")
        x = self.embed(tokens)
        positions = torch.arange(start, start + seq, device=tokens.device)
        rope = None
        if self.pos_embed is not None:
            x = x + self.pos_embed(positions)
        if self.rope is not None:
            rope = self.rope(positions)
        for i, layer in enumerate(self.layers):
            x = layer(x, rope, None if cache is None else cache[i], start)
        x = self.norm(x)
        if last_only:
            x = x[:, -1:]
        return self.lm_head(x)
