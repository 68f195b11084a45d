"""Trace a workload's step on the meta device into an ir.Graph: ops, costs, dependencies, memory facts.

The model is built on `torch.device("meta")` (no memory, no weights), its inputs and persistent state
(KV cache, optimizer state) are made before the step, and the step (hwsim.trace.step) runs under a
Recorder. A zoo model with more than three blocks is built with three and the trace replicated
(hwsim.trace.replicate); if the blocks' traces do not line up, the full model is traced instead.
Parameter counts and persistent memory come from the real parameter, gradient, optimizer-state and
cache tensors, per block times the number of blocks when replicated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from hwsim.errors import InputError
from hwsim.ir import Graph, MemoryFacts, Op
from hwsim.models import build_model, parameter_counts, per_block_total
from hwsim.trace.memory import live_peaks
from hwsim.trace.recorder import Rec, Recorder
from hwsim.trace.replicate import TEMPLATE_LAYERS, ReplicationError, replicate
from hwsim.trace.step import make_state, run_step
from hwsim.workload import Workload

__all__ = ["trace_workload"]


@dataclass(slots=True)
class _Traced:
    records: list[Rec]
    params: int
    active_params: int
    memory: dict[str, float]


def _bytes(t: torch.Tensor | None) -> float:
    return 0.0 if t is None else float(t.numel() * t.element_size())


def _run(workload: Workload, layers: int | None) -> _Traced:
    spec, task = workload.model, workload.task
    with torch.device("meta"):
        model = build_model(spec, dtype=task.dtype, where=workload.where, layers=layers)
    state = make_state(model, workload, "meta")
    recorder = Recorder(model)
    try:
        with recorder:
            run_step(model, state, workload, recorder)
    except InputError:
        raise
    except Exception as exc:
        if spec.is_zoo:
            raise
        key = "model.factory" if spec.family == "factory" else "model.hf_config"
        msg = str(exc).splitlines()[0] if str(exc) else ""
        raise InputError.one(
            workload.where,
            key,
            "a model mapping token ids [batch, seq] to logits",
            "one that fails on them",
            f"{type(exc).__name__}: {msg}",
        ) from None
    grads = {recorder.storage_id(p.grad) for p in model.parameters() if p.grad is not None}
    records = recorder.records
    for r in records:  # gradients are persistent state, counted from the tensors below
        if any(sid in grads for sid, _ in r.makes):
            r.makes = tuple(m for m in r.makes if m[0] not in grads)
    full = spec.layers if spec.is_zoo else 1
    traced = len(model.layers) if spec.is_zoo else 1
    return _Traced(records, *parameter_counts(model, spec), _persistent(model, state, full, traced))


def _persistent(model: nn.Module, state: Any, layers: int, traced: int) -> dict[str, float]:
    named = list(model.named_parameters())
    out = {
        "weights": per_block_total([(n, _bytes(p)) for n, p in named], layers, traced),
        "gradients": per_block_total([(n, _bytes(p.grad)) for n, p in named], layers, traced),
        "optimizer_states": 0.0,
        "kv_cache": 0.0,
    }
    if state.optimizer is not None:
        states = [
            (f"{scope}.", _bytes(master) + _bytes(m) + _bytes(v))
            for scope, _, master, m, v in state.optimizer.entries
        ]
        out["optimizer_states"] = per_block_total(states, layers, traced)
    if state.cache is not None:
        out["kv_cache"] = sum(_bytes(k) + _bytes(v) for k, v in state.cache) * layers / traced
    return out


def _info(workload: Workload, traced_layers: int, replicated: bool) -> dict[str, Any]:
    spec, task = workload.model, workload.task
    info: dict[str, Any] = {
        "family": spec.family,
        "mode": task.mode,
        "batch": task.batch,
        "launch": task.launch,
    }
    for key in ("layers", "hidden", "heads", "kv_heads", "ffn_hidden", "vocab", "experts", "top_k"):
        value = getattr(spec, key)
        if value:
            info[key] = value
    if spec.is_zoo:
        info["kv_heads"] = spec.kv_heads or spec.heads
        info["head_dim"] = spec.head_dim
        info["tie_embeddings"] = spec.tie_embeddings
    if spec.seq_len:
        info["max_positions"] = spec.seq_len
    info["seq_len"] = {"train": task.seq_len, "prefill": task.prompt_len, "decode": task.context_len + 1}[
        task.mode
    ]
    if task.mode == "prefill":
        info["prompt_len"] = task.prompt_len
    if task.mode == "decode":
        info["context_len"] = task.context_len
    if spec.is_moe:
        info["routing"] = workload.routing
    info["mixed_precision"] = task.mode == "train" and task.dtype != "fp32"
    info["traced_layers"] = traced_layers
    info["replicated"] = replicated
    if workload.plan:
        info["plan"] = dict(workload.plan)
    if workload.path:
        info["workload"] = workload.path
    return info


def _op(i: int, r: Rec) -> Op:
    return Op(
        id=i,
        target=r.target,
        op_class=r.op_class,
        phase=r.phase,
        scope=r.scope,
        inputs=r.inputs,
        outputs=r.outputs,
        flop=r.flop,
        bytes_read=r.bytes_read,
        bytes_written=r.bytes_written,
        dtype=r.dtype,
        deps=r.deps,
        costed=r.costed,
        attrs=r.attrs,
    )


def trace_workload(workload: Workload, *, replicate_layers: bool = True) -> Graph:
    """The Graph of one step of `workload` (see the module docstring)."""
    spec, task = workload.model, workload.task
    records: list[Rec] | None = None
    replicated = False
    traced_layers = spec.layers
    if replicate_layers and spec.is_zoo and spec.layers > TEMPLATE_LAYERS:
        traced = _run(workload, TEMPLATE_LAYERS)
        try:
            records = replicate(traced.records, spec.layers)
            replicated, traced_layers = True, TEMPLATE_LAYERS
        except ReplicationError:
            records = None
    if records is None:
        traced = _run(workload, None)
        records = traced.records
    activations, transient = live_peaks(records)
    memory = MemoryFacts(activations=activations, transient=transient, **traced.memory)
    return Graph(
        name=workload.name,
        mode=task.mode,
        ops=tuple(_op(i, r) for i, r in enumerate(records)),
        params=traced.params,
        active_params=traced.active_params,
        tokens=task.tokens,
        batch=task.batch,
        dtype=task.dtype,
        memory=memory,
        info=_info(workload, traced_layers, replicated),
    )
