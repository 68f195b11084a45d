"""One workload step (train, prefill or decode), the same code on the meta device and on real hardware.

The tracer runs `run_step` under a Recorder on meta; `run_workload` runs it for real (tests run the
tiny models on the CPU this way, so a model that traces on lax meta kernels but would fail on
hardware is caught).

- train: forward, cross-entropy over every position (logits upcast to fp32 first, as Megatron-LM
  and Hugging Face compute the loss), backward, one AdamW step.
  Mixed precision when the dtype is bf16/fp16 (Micikevicius et al. 2018; the ZeRO paper's
  accounting, Rajbhandari et al. 2020 sec. 3.1): parameters, activations and gradients in the
  dtype; fp32 master weights and fp32 Adam moments as optimizer state, i.e. 2 + 2 + 12 = 16 bytes
  per parameter. In fp32 there is no master copy: 4 + 4 + 8 bytes. The optimizer is fused AdamW,
  one `hwsim.adamw_` kernel per parameter; its state exists before the step (a later step, not the
  first, whose state initialisation would be a one-off).
- prefill: forward over the prompt writing the KV cache (capacity prompt_len); logits for the last
  position only, as serving engines compute them.
- decode: one new token per sequence at position context_len against a cache of context_len
  tokens (capacity context_len + 1), written in place.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import nn

from hwsim.models import TORCH_DTYPES, build_model, ops
from hwsim.models.layers import KVCache
from hwsim.workload import Workload

__all__ = ["FusedAdamW", "Marks", "StepState", "make_state", "run_step", "run_workload"]


class Marks(Protocol):
    """Where a step tells the tracer which phase and scope it is in (no-ops for a real run)."""

    def in_phase(self, phase: str) -> Any: ...

    def in_scope(self, scope: str) -> Any: ...


class _NoMarks:
    def in_phase(self, phase: str) -> Any:
        return nullcontext()

    def in_scope(self, scope: str) -> Any:
        return nullcontext()


class FusedAdamW:
    """AdamW with torch.optim.AdamW's default hyperparameters, one fused kernel per parameter.

    Under mixed precision (parameters below fp32) it keeps fp32 master weights; moments are fp32.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.step_count = 0
        self.entries: list[tuple[str, nn.Parameter, torch.Tensor | None, torch.Tensor, torch.Tensor]] = []
        for name, p in model.named_parameters():
            master = p.detach().float().clone() if p.dtype != torch.float32 else None
            m = torch.zeros_like(p, dtype=torch.float32)
            v = torch.zeros_like(p, dtype=torch.float32)
            self.entries.append((name.rpartition(".")[0], p, master, m, v))

    def state_tensors(self) -> list[torch.Tensor]:
        return [t for _, _, master, m, v in self.entries for t in (master, m, v) if t is not None]

    def step(self, marks: Marks | None = None) -> None:
        marks = marks or _NoMarks()
        self.step_count += 1
        with torch.no_grad():
            for scope, p, master, m, v in self.entries:
                if p.grad is None:
                    continue
                with marks.in_scope(scope):
                    ops.adamw_(
                        p,
                        p.grad,
                        master,
                        m,
                        v,
                        self.lr,
                        *self.betas,
                        self.eps,
                        self.weight_decay,
                        self.step_count,
                    )


@dataclass(slots=True)
class StepState:
    """Inputs and persistent state of one step, made before it runs (not part of the trace)."""

    tokens: torch.Tensor
    targets: torch.Tensor | None = None
    cache: list[KVCache] | None = None
    optimizer: FusedAdamW | None = None
    start: int = 0


def _tokens(shape: tuple[int, int], vocab: int, device: torch.device) -> torch.Tensor:
    if device.type == "meta" or vocab <= 0:
        return torch.zeros(shape, dtype=torch.long, device=device)
    generator = torch.Generator().manual_seed(0)
    return torch.randint(0, vocab, shape, generator=generator).to(device)


def make_state(model: nn.Module, workload: Workload, device: torch.device | str) -> StepState:
    """Token ids (and targets), the KV cache or the optimizer state the step needs."""
    device = torch.device(device)
    task, spec = workload.task, workload.model
    shape = (task.batch, task.step_len)
    state = StepState(tokens=_tokens(shape, spec.vocab, device))
    if task.mode == "train":
        state.targets = _tokens(shape, spec.vocab, device)
        state.optimizer = FusedAdamW(model)
        return state
    if spec.is_zoo:
        capacity = task.prompt_len if task.mode == "prefill" else task.context_len + 1
        shape_kv = (task.batch, spec.kv_heads or spec.heads, capacity, spec.head_dim)
        dtype = TORCH_DTYPES[task.dtype]
        n_layers = len(model.layers)
        state.cache = [
            (
                torch.zeros(shape_kv, dtype=dtype, device=device),
                torch.zeros(shape_kv, dtype=dtype, device=device),
            )
            for _ in range(n_layers)
        ]
        state.start = task.context_len if task.mode == "decode" else 0
    return state


def _logits(out: Any) -> torch.Tensor:
    return out if isinstance(out, torch.Tensor) else out.logits


def run_step(
    model: nn.Module, state: StepState, workload: Workload, marks: Marks | None = None
) -> torch.Tensor:
    """Run one step; returns the loss (train) or the logits (prefill, decode)."""
    marks = marks or _NoMarks()
    if workload.task.mode == "train":
        model.train()
        with marks.in_phase("fwd"):
            logits = _logits(model(state.tokens))
            with marks.in_scope("loss"):
                loss = F.cross_entropy(logits.float().flatten(0, 1), state.targets.flatten())
        with marks.in_phase("bwd"), marks.in_scope("loss"):
            loss.backward()
        with marks.in_phase("optim"):
            state.optimizer.step(marks)
        return loss
    model.eval()
    with marks.in_phase("fwd"), torch.no_grad():
        if state.cache is not None:
            return model(state.tokens, cache=state.cache, start=state.start, last_only=True)
        return _logits(model(state.tokens))


@contextmanager
def _threads(n: int | None) -> Iterator[None]:
    if n is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def run_workload(workload: Workload, device: str = "cpu", *, threads: int | None = None) -> torch.Tensor:
    """Build the workload's model with real tensors on `device` and run one step (for small models)."""
    with torch.device(device), _threads(threads):
        model = build_model(workload.model, dtype=workload.task.dtype, where=workload.where)
        state = make_state(model, workload, device)
        return run_step(model, state, workload)
