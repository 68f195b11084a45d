"""How the zoo's fused custom ops run where no fused kernel exists: the ATen passes of their eager code.

The graph costs `hwsim.rms_norm` and `hwsim.rms_norm_backward` as one fused kernel each, which is
what a GPU training stack runs (apex / Transformer Engine RMSNorm). torch 2.13 has no fused RMS norm
kernel on the CPU (`aten._fused_rms_norm` decomposes there and its backward has no CPU kernel), so
when the model runs for real these ops execute their Python implementation in hwsim.models.ops: six
ATen passes forward and about a dozen backward, each reading and writing memory.

Rather than a hand-written formula for that lowering, the tracer runs the op's own implementation on
the meta tensors under a small dispatch mode and costs every ATen op it issues with the same rules
(hwsim.trace.rules). The result is kept on the graph op as `attrs["passes"]`, a list of
[op class, FLOP, bytes] per pass; a calibration whose `unfused_ops` names the op costs it as those
passes (hwsim.cost.roofline) instead of as one kernel. Everything else keeps the fused cost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from hwsim.models import ops
from hwsim.trace.rules import Call, evaluate

__all__ = ["LOWERED", "passes"]

# The custom ops whose real implementation is a sequence of ATen ops, and that implementation
# (keys: hwsim.ir.LOWERED_TARGETS, which calibration files are checked against).
LOWERED: dict[str, Callable[..., Any]] = {
    "hwsim.rms_norm.default": ops.rms_norm_math,
    "hwsim.rms_norm_backward.default": ops.rms_norm_backward_math,
}


class _Passes(TorchDispatchMode):
    """Records the cost of every data-moving ATen op issued inside it (views, allocations and
    dtype queries move nothing)."""

    def __init__(self) -> None:
        super().__init__()
        self.passes: list[list[Any]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        from hwsim.trace.recorder import SKIPPED_TARGETS  # the recorder imports this module

        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if func in SKIPPED_TARGETS or func.is_view:
            return out
        arguments = func._schema.arguments
        named = {a.name: (a.default_value if a.has_default_value() else None) for a in arguments}
        named.update(zip((a.name for a in arguments), args, strict=False))
        named.update(kwargs)
        inputs = [t for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
        outputs = [t for t in tree_leaves(out) if isinstance(t, torch.Tensor)]
        if not outputs:  # e.g. aten.promote_types: no data moves
            return out
        cost, _ = evaluate(Call(str(func), named, inputs, outputs))
        self.passes.append([cost.op_class, cost.flop, (cost.bytes_read or 0.0) + (cost.bytes_written or 0.0)])
        return out


def passes(target: str, args: tuple, kwargs: dict) -> list[list[Any]] | None:
    """[op class, FLOP, bytes] of each ATen pass `target`'s eager implementation runs (None: not lowered)."""
    implementation = LOWERED.get(target)
    if implementation is None:
        return None
    mode = _Passes()
    with torch.no_grad(), mode:
        implementation(*args, **kwargs)
    return mode.passes
