"""The plain-torch model zoo and the one entry point that builds any workload's model.

`build_model` builds a zoo model from its dimensions, calls a user factory, or builds a Hugging Face
model from a local config, on whatever device is current (`torch.device("meta")` for tracing, the CPU
or a GPU for real runs). Bad user code (a factory that does not import, raises, or returns something
other than an nn.Module) becomes one `InputError` line.

A workload file is data that people share, and `factory:` names code to import and call, so a factory
runs only when trusted (as Hugging Face's `trust_remote_code`), checked before anything is imported:
- hwsim's own model factories (functions under `hwsim.` marked with `@zoo_factory`) always run;
- any other only inside `trusting_factories()`: every factory (the CLI's `--trust-factory`), or those
  whose top-level module is found in the folders given (`--factory-path DIR`, which also puts DIR on
  sys.path for the block). Outside such a block a user factory is refused with one InputError line.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
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
    "FactoryTrust",
    "build_model",
    "load_factory",
    "parameter_counts",
    "per_block_total",
    "trusting_factories",
    "zoo_factory",
]

# The compute dtypes a workload may ask for, by the names hwsim.ir uses.
TORCH_DTYPES: dict[str, torch.dtype] = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}

_FACTORY_KEY = "model.factory"
_BLOCK = re.compile(r"^layers\.(\d+)\.")
_FACTORY_FORM = 'an importable "package.module:function"'


_UNTRUSTED = "a factory under hwsim. or --trust-factory"
_ZOO_MARK = "__hwsim_zoo_factory__"


@dataclass(frozen=True, slots=True, kw_only=True)
class FactoryTrust:
    """Which user factories may be imported and called: all of them, or those found in `paths`."""

    everything: bool = False
    paths: tuple[Path, ...] = ()


# The default is frozen, so sharing it is safe (B039 is about mutable defaults).
_TRUST: ContextVar[FactoryTrust] = ContextVar("hwsim_trust", default=FactoryTrust())  # noqa: B039


@contextmanager
def trusting_factories(*, everything: bool = True, paths: Iterable[Path] = ()) -> Iterator[FactoryTrust]:
    """Within the block, run user factories: every one (`everything`), or else those whose top-level
    module is found in `paths` (absolute folders, put first on sys.path for the block)."""
    folders = tuple(Path(p).resolve() for p in paths)
    trust = FactoryTrust(everything=everything, paths=folders)
    token = _TRUST.set(trust)
    added = [str(p) for p in folders if str(p) not in sys.path]
    sys.path[:0] = added
    importlib.invalidate_caches()
    try:
        yield trust
    finally:
        for entry in added:
            if entry in sys.path:
                sys.path.remove(entry)
        _TRUST.reset(token)


def zoo_factory(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a function under `hwsim.` as one of hwsim's own model factories, which run untrusted."""
    setattr(fn, _ZOO_MARK, True)
    return fn


def _in_folders(module_name: str, folders: tuple[Path, ...]) -> bool:
    """Whether `module_name`'s top-level module would be imported from one of `folders` (no import)."""
    top = module_name.split(".")[0]
    loaded = sys.modules.get(top)
    if loaded is not None:
        files = [getattr(loaded, "__file__", None), *list(getattr(loaded, "__path__", []) or [])]
        return any(f and Path(f).resolve().is_relative_to(d) for f in files for d in folders)
    spec = importlib.machinery.PathFinder.find_spec(top, [str(d) for d in folders])
    return spec is not None


def _is_hwsim(module_name: str) -> bool:
    return module_name == "hwsim" or module_name.startswith("hwsim.")


def _check_trust(ref: str, module_name: str, where: str) -> FactoryTrust:
    trust = _TRUST.get()
    if trust.everything or _is_hwsim(module_name):
        return trust
    if trust.paths and _in_folders(module_name, trust.paths):
        return trust
    folders = f"not found in --factory-path {', '.join(map(str, trust.paths))}; " if trust.paths else ""
    raise InputError.one(
        where,
        _FACTORY_KEY,
        _UNTRUSTED,
        shown(ref),
        f"{folders}a workload's factory runs its code: pass --trust-factory if you trust it, "
        "or --factory-path DIR for the folder that holds it",
    )


def load_factory(ref: str, where: str) -> Callable[..., Any]:
    """The function a `factory: "package.module:function"` names; InputError if it cannot be imported
    or is not trusted (see the module docstring; nothing is imported before the trust check)."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise InputError.one(
            where, _FACTORY_KEY, _FACTORY_FORM, shown(ref), 'separate module and function with ":"'
        )
    trust = _check_trust(ref, module_name, where)
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
    if not trust.everything:  # `hwsim.x:subprocess.run` or `mine:os.system` reach past the trusted code
        if _is_hwsim(module_name) and getattr(fn, _ZOO_MARK, False) is not True:
            raise InputError.one(
                where, _FACTORY_KEY, _UNTRUSTED, shown(ref), f"{attr} is not one of hwsim's model factories"
            )
        home = getattr(fn, "__module__", None) or ""
        if not _is_hwsim(module_name) and not (home and _in_folders(home, trust.paths)):
            raise InputError.one(
                where, _FACTORY_KEY, _UNTRUSTED, shown(ref), f"{attr} is defined in {home or 'no module'}, "
                "not in a module found in --factory-path",
            )  # fmt: skip
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
            "it returned None" if model is None else f"it returned {type(model).__name__}",
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
