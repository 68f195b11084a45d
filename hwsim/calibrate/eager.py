"""The host cost of running a model eagerly, per op: a chain of small modules, forward and backward.

A one-element `torch.add(out=)` in a hot loop (the `launch` microbenchmark) measures the dispatch of
one op: about 1.2 us on the CPU this project was built on. An eager model step costs far more per op
(about 10 us measured on that CPU): every op also pays the Python of the module that calls it
(`nn.Module.__call__`, hooks, argument handling), autograd's recording of the op in the forward
pass, the backward engine's scheduling of its gradient, and output allocation. None of that is a
kernel, and the roofline cannot see it; on a CPU, or a GPU launching small kernels, it adds to
every op.

This benchmark measures it the way a model runs: `BLOCKS` transformer-MLP-shaped blocks
(LayerNorm, Linear, GELU, Linear, residual add; the modules a model is made of), each `width` wide
on `tokens` rows, small enough that the kernels themselves are a fraction of a microsecond. Two
kinds:
- `eager_train`: forward, `sum()` loss and backward with autograd, gradients reset to None between
  steps (what `optimizer.zero_grad()` does);
- `eager_infer`: the forward alone under `torch.no_grad()`.
The time per step is divided by the number of ATen ops the step runs, counted as the tracer counts
graph ops (views and allocations are not ops: hwsim.trace.recorder.SKIPPED_TARGETS), so the row's
time is seconds per op. hwsim.calibrate.fit subtracts the launch row's time from it: what is left is
the calibration's `eager_overhead` for training and inference steps, where that difference rises
above the two rows' spreads (hwsim.calibrate.unresolved; otherwise the row is named, not fitted).

It is not fitted on any model hwsim validates: the blocks are not a zoo model, and the figure is the
same for every model (an approximation: a model with more Python per op, e.g. attention's head
reshapes, pays more).
"""

from __future__ import annotations

from typing import Any

__all__ = ["BLOCKS", "EAGER_KINDS", "build_eager", "count_ops"]

BLOCKS = 8  # blocks in the chain: enough ops (about 40 forward, 110 training) to average over
EAGER_KINDS = ("eager_train", "eager_infer")


def _chain(width: int, dtype: Any, device: str):
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm = nn.LayerNorm(width)
            self.up = nn.Linear(width, 4 * width)
            self.down = nn.Linear(4 * width, width)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + self.down(nn.functional.gelu(self.up(self.norm(x))))

    return nn.Sequential(*[Block() for _ in range(BLOCKS)]).to(device=device, dtype=dtype)


def count_ops(fn) -> int:  # noqa: ANN001
    """ATen ops one call of `fn` runs, as hwsim.trace records graph ops (no views, no allocations)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    from hwsim.trace.recorder import SKIPPED_TARGETS

    class Count(TorchDispatchMode):
        ops = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
            if func not in SKIPPED_TARGETS and not func.is_view:
                self.ops += 1
            return func(*args, **(kwargs or {}))

    counter = Count()
    with counter:
        fn()
    return counter.ops


class EagerStep:
    """One step of the chain; `ops_per_call` tells hwsim.calibrate.microbench to report time per op."""

    def __init__(self, kind: str, shape: tuple[int, ...], dtype: Any, device: str) -> None:
        import torch

        if kind not in EAGER_KINDS:
            raise ValueError(f"unknown eager benchmark {kind!r}")
        width, tokens = shape
        self.model = _chain(width, dtype, device)
        self.x = torch.randn(tokens, width, dtype=dtype, device=device)
        self.train = kind == "eager_train"
        self.ops_per_call = count_ops(self)

    def __call__(self) -> None:
        import torch

        if self.train:
            with torch.enable_grad():  # the microbenchmarks run under no_grad
                for p in self.model.parameters():
                    p.grad = None
                self.model(self.x).sum().backward()
        else:
            with torch.no_grad():
                self.model(self.x)


def build_eager(kind: str):  # noqa: ANN201
    """A microbench Build for `kind`: (shape = (width, tokens), torch dtype, device) -> EagerStep."""
    return lambda shape, dtype, device: EagerStep(kind, shape, dtype, device)
