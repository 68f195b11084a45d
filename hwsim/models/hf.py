"""Build a Hugging Face `transformers` causal-LM from a local config.json (the optional `hwsim[hf]` extra).

Only the config is read: no hub access, no weights, no `trust_remote_code`. `transformers` is imported
lazily so hwsim works without it; a workload that names `hf_config` without it installed gets one
clear error. The model is built with the "sdpa" attention implementation so that the tracer sees
`F.scaled_dot_product_attention` and turns it into the fused flash kernel.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hwsim.errors import InputError, shown
from hwsim.yamlio import display_path

__all__ = ["build_hf", "read_hf_config"]

_KEY = "model.hf_config"


def read_hf_config(path: Path, where: str) -> dict[str, Any]:
    """The config as a mapping; InputError unless it is a JSON object naming its `model_type`."""
    if not path.is_file():
        raise InputError.one(
            where, _KEY, "the path of a Hugging Face config.json", shown(display_path(path)), "no such file"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError.one(
            where, _KEY, "a Hugging Face config.json", f"a file that is not JSON ({exc})"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("model_type"), str):
        raise InputError.one(
            where,
            _KEY,
            "a Hugging Face config.json",
            'a file without a "model_type"',
            'a config.json names its architecture, e.g. "model_type": "llama"',
        )
    return data


def build_hf(path: Path, *, dtype: torch.dtype, where: str) -> nn.Module:
    """A randomly initialised `AutoModelForCausalLM` for the config at `path`, on the current device."""
    try:
        import transformers
    except ImportError:
        raise InputError.one(
            where,
            _KEY,
            "the optional dependency transformers",
            "it is not installed",
            "pip install 'hwsim[hf]'",
        ) from None
    data = read_hf_config(path, where)
    try:
        config = transformers.AutoConfig.for_model(**data)
        config._attn_implementation = "sdpa"
        model = transformers.AutoModelForCausalLM.from_config(config)
    except Exception as exc:  # noqa: BLE001 - any failure of a user config is bad input, on one line
        msg = str(exc).splitlines()[0] if str(exc) else ""
        raise InputError.one(
            where, _KEY, "a config transformers can build", f"{type(exc).__name__}: {msg}"
        ) from None
    return model.to(dtype)
