"""The dimensions a zoo model is built from, and which of them each family takes.

A `ModelSpec` is what a workload file's `model:` section becomes. The zoo families are built from
dimensions alone (no weights are downloaded); `factory` and `hf` models come from user code or a
Hugging Face config and carry no dimensions of their own beyond the optional `vocab`/`seq_len`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FAMILIES", "FAMILY_KEYS", "ModelSpec"]

# The zoo: GPT-2/GPT-3 style (LayerNorm, GELU, learned positions, MHA, biases), Llama style (RMSNorm,
# RoPE, SwiGLU, grouped-query attention) and Mixtral (Llama with a top-k mixture-of-experts FFN).
FAMILIES: tuple[str, ...] = ("gpt", "llama", "mixtral")

_COMMON_REQUIRED = ("layers", "hidden", "heads", "ffn_hidden", "vocab", "seq_len")
# family -> (required integer keys, optional keys). Optional defaults are the family's published
# defaults: GPT-2 config.json (layer_norm_epsilon 1e-5, tied embeddings, biases); Llama 2 config.json
# (rms_norm_eps 1e-5, rope_theta 10000, untied embeddings, kv_heads = heads).
FAMILY_KEYS: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "gpt": (_COMMON_REQUIRED, ("tie_embeddings", "norm_eps", "bias")),
    "llama": (_COMMON_REQUIRED, ("kv_heads", "tie_embeddings", "norm_eps", "rope_theta")),
    "mixtral": (
        (*_COMMON_REQUIRED, "experts", "top_k"),
        ("kv_heads", "tie_embeddings", "norm_eps", "rope_theta"),
    ),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelSpec:
    """A model as the workload describes it. `family` is a zoo family, "factory" or "hf"."""

    family: str
    layers: int = 0
    hidden: int = 0
    heads: int = 0
    kv_heads: int = 0  # == heads for multi-head attention
    ffn_hidden: int = 0  # per expert for mixtral
    vocab: int = 0
    seq_len: int = 0  # maximum positions the model supports
    experts: int = 0  # mixture-of-experts only
    top_k: int = 0
    tie_embeddings: bool = False
    norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    bias: bool = False  # biases in linear layers and norms (GPT family)
    factory: str = ""  # "package.module:function" for family "factory"
    factory_args: Mapping[str, Any] = field(default_factory=dict)
    hf_config: str = ""  # path of a Hugging Face config.json for family "hf"

    @property
    def is_zoo(self) -> bool:
        return self.family in FAMILIES

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads if self.heads else 0

    @property
    def is_moe(self) -> bool:
        return self.experts > 0
