"""The plain-torch model zoo and the one entry point that builds any workload's model.

`build_model` builds a zoo model from its dimensions, calls a user factory, or builds a Hugging Face
model from a local config, on whatever device is current (`torch.device("meta")` for tracing, the CPU
or a GPU for real runs). Bad user code (a factory that does not import, raises, or returns something
other than an nn.Module) becomes one `InputError` line.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hwsim.errors import InputError, shown
from hwsim.models.config import FAMILIES, FAMILY_KEYS, ModelSpec
from hwsim.models.transformer import Transformer

__all__ = [
    "FAMILIES",
    "FAMILY_KEYS",
    "TORCH_DTYPES",
    "ModelSpec",
    "Transformer",
    "build_model",
    "load_factory",
    "parameter_counts",
    "per_block_total",
]

# The compute dtypes a workload may ask for, by the names hwsim.ir uses.
TORCH_DTYPES: dict[str, torch.dtype] = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}

_FACTORY_KEY = "model.factory"
_BLOCK = re.compile(r"^layers\.(\d+)\.")
_FACTORY_FORM = 'an importable "package.module:function"'


def load_factory(ref: str, where: str) -> Callable[..., Any]:
    """The function a `factory: "package.module:function"` names; InputError if it cannot be imported."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise InputError.one(
            where, _FACTORY_KEY, _FACTORY_FORM, shown(ref), 'separate module and function with ":"'
        )
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - user code: any import failure is bad input
        raise InputError.one(
            where, _FACTORY_KEY, _FACTORY_FORM, shown(ref), f"{type(exc).__name__}: {exc}"
        ) from None
    fn = module
    for part in attr.split("."):
        fn = getattr(fn, part, None)
        if fn is None:
            raise InputError.one(
                where,
                _FACTORY_KEY,
                _FACTORY_FORM,
                shown(ref),
                f"module {module_name} has no attribute {attr}",
            )
    if not callable(fn):
        raise InputError.one(where, _FACTORY_KEY, _FACTORY_FORM, shown(ref), f"{attr} is not callable")
    return fn


def build_model(
    spec: ModelSpec, *, dtype: str, where: str = "<workload>", layers: int | None = None
) -> nn.Module:
    """The workload's model with parameters in `dtype`, on the current default device.

    `layers` overrides the number of blocks of a zoo model (the tracer builds a few and replicates).
    """
    torch_dtype = TORCH_DTYPES[dtype]
    if spec.is_zoo:
        return Transformer(spec, dtype=torch_dtype, layers=layers)
    if spec.family == "hf":
        from hwsim.models.hf import build_hf

        return build_hf(Path(spec.hf_config), dtype=torch_dtype, where=where)
    fn = load_factory(spec.factory, where)
    try:
        model = fn(**dict(spec.factory_args))
    except Exception as exc:  # noqa: BLE001 - user code: any failure is bad input, reported on one line
        msg = str(exc).splitlines()[0] if str(exc) else ""
        raise InputError.one(
            where,
            _FACTORY_KEY,
            "a factory that builds a model",
            shown(spec.factory),
            f"it raised {type(exc).__name__}: {msg}",
        ) from None
    if not isinstance(model, nn.Module):
        raise InputError.one(
            where,
            _FACTORY_KEY,
            "a factory returning a torch.nn.Module",
            shown(spec.factory),
            f"it returned {type(model).__name__}",
        )
    return model.to(torch_dtype)


def per_block_total(values: Iterable[tuple[str, float]], layers: int, built: int) -> float:
    """Sum of per-name values ("layers.3.attn.wq.weight" -> bytes) for a model of `layers` identical
    blocks of which `built` were built: names outside the blocks once, block 0's names `layers` times."""
    values = list(values)
    if built == layers:
        return sum(v for _, v in values)
    total = 0.0
    for name, value in values:
        match = _BLOCK.match(name)
        if match is None:
            total += value
        elif match.group(1) == "0":
            total += value * layers
    return total


def parameter_counts(model: nn.Module, spec: ModelSpec) -> tuple[int, int]:
    """(parameters, active parameters) of the full model that `model` (possibly built with fewer
    blocks) stands for. Active: a token passes through top_k of the experts of each MoE layer."""
    built = len(model.layers) if spec.is_zoo else 1
    layers = spec.layers if spec.is_zoo else 1
    named = [(n, float(p.numel())) for n, p in model.named_parameters()]
    params = int(per_block_total(named, layers, built))
    experts = int(per_block_total([(n, v) for n, v in named if ".ffn.experts." in n], layers, built))
    active = params - experts + (experts * spec.top_k // spec.experts if spec.experts else 0)
    return params, active
