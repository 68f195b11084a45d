"""Record every kernel-level operator a step runs: target, shapes, cost, dependencies, scope, phase.

Three hooks work together while the step runs (on the meta device, or for real):
- a TorchDispatchMode sees each ATen call. View and bookkeeping ops (views, detach, alias,
  lift_fresh, allocations, profiler markers, `_local_scalar_dense`) cost nothing and are not
  recorded. For the rest it records the cost rule's verdict (hwsim.trace.rules) and the
  dependencies: the producer of every storage an op reads and the last op that wrote into that
  storage in place (a KV-cache `copy_` is a dependency of the attention that reads the cache).
  Storages are keyed by `untyped_storage()._cdata`; they are kept alive so an address is never
  reused, and reading a view is reading its base's storage, so views keep dependencies right.
- module forward pre-hooks and hooks keep a stack of module names: the forward scope.
- a TorchFunctionMode writes the current scope into `grad_fn.metadata` of each new autograd node;
  during backward `torch._C._current_autograd_node()` names the node, hence the exact scope of each
  backward op. The same mode redirects `F.scaled_dot_product_attention` to the fused flash kernel
  (memory-efficient kernel for fp32) that the target runs; on meta the plain call would take the
  decomposed math path. Grouped-query K/V heads are expanded for the kernel without recording the
  expansion as a copy (a GQA flash kernel reads the shared heads in place; the hint kv_heads tells
  the cost rule).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from hwsim.ir import TensorMeta
from hwsim.trace.lowering import passes
from hwsim.trace.rules import Call, evaluate

__all__ = ["SKIPPED_TARGETS", "Rec", "Recorder", "dtype_name"]

_DTYPES = {
    torch.float64: "fp64",
    torch.float32: "fp32",
    torch.bfloat16: "bf16",
    torch.float16: "fp16",
    torch.float8_e4m3fn: "fp8",
    torch.float8_e5m2: "fp8",
    torch.int64: "int64",
    torch.int32: "int32",
    torch.int16: "int16",
    torch.int8: "int8",
    torch.uint8: "uint8",
    torch.bool: "bool",
    torch.complex64: "complex64",
    torch.complex128: "complex128",
}
_LAYER = re.compile(r"^layers\.(\d+)(?:\.|$)")
aten = torch.ops.aten
# Ops that cost nothing and carry no data of their own.
SKIPPED_TARGETS = {
    aten.detach.default,
    aten.alias.default,
    aten.lift_fresh.default,
    aten.lift_fresh_copy.default,
    aten._local_scalar_dense.default,
    aten.empty.memory_format,
    aten.empty_like.default,
    aten.empty_strided.default,
    aten.new_empty.default,
    aten.new_empty_strided.default,
    aten.resize_.default,
    aten.set_.source_Storage_storage_offset,
}


# Ops that take a tensor only for its shape, dtype and device: they read no data and depend on nothing.
_SHAPE_ONLY = {
    aten.zeros_like.default,
    aten.ones_like.default,
    aten.full_like.default,
    aten.new_zeros.default,
    aten.new_ones.default,
    aten.new_full.default,
}


def dtype_name(dtype: torch.dtype) -> str:
    """The hwsim.ir name of a torch dtype ("bf16")."""
    return _DTYPES.get(dtype, str(dtype).removeprefix("torch."))


@dataclass(slots=True)
class Rec:
    """One recorded op, with the storage facts the memory and replication passes need."""

    target: str
    op_class: str
    phase: str
    scope: str
    inputs: tuple[TensorMeta, ...]
    outputs: tuple[TensorMeta, ...]
    flop: float
    bytes_read: float
    bytes_written: float
    dtype: str
    costed: bool
    attrs: dict[str, Any]
    deps: tuple[int, ...]  # indices of earlier records
    reads: tuple[int, ...]  # storage ids this op reads (or writes in place)
    makes: tuple[tuple[int, float], ...]  # (storage id, bytes) of storages this op allocates
    layer: int | None  # block index parsed from the scope "layers.N."


def _meta(t: torch.Tensor) -> TensorMeta:
    return TensorMeta(shape=tuple(t.shape), dtype=dtype_name(t.dtype))


class _Dispatch(TorchDispatchMode):
    def __init__(self, rec: Recorder) -> None:
        super().__init__()
        self.rec = rec

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        kwargs = kwargs or {}
        if func in SKIPPED_TARGETS or func.namespace == "profiler":
            if func is aten._local_scalar_dense.default and args[0].device.type == "meta":
                return False if args[0].dtype == torch.bool else 0  # a fixed answer for data-dependent code
            out = func(*args, **kwargs)
            self.rec.register(out)
            return out
        if func.is_view:
            return func(*args, **kwargs)
        out = func(*args, **kwargs)
        self.rec.record(func, args, kwargs, out)
        return out


class _Functions(TorchFunctionMode):
    def __init__(self, rec: Recorder) -> None:
        super().__init__()
        self.rec = rec

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        kwargs = kwargs or {}
        out = None
        if func is F.scaled_dot_product_attention:
            out = self.rec.fused_attention(*args, **kwargs)
        if out is None:
            out = func(*args, **kwargs)
        if self.rec.phase == "fwd" and torch.is_grad_enabled():
            self.rec.tag(out)
        return out


class Recorder:
    """Context manager recording the ops of what runs inside it; also the phase/scope marks of a step."""

    def __init__(self, model: nn.Module | None = None) -> None:
        self.model = model
        self.records: list[Rec] = []
        self.phase = "fwd"
        self._scopes: list[str] = [""]
        self._sid: dict[int, int] = {}  # storage address -> storage id
        self._next_sid = 0
        self._keep: list[Any] = []  # storages kept alive so that addresses stay unique
        self._producer: dict[int, int] = {}  # storage id -> record index
        self._writer: dict[int, int] = {}  # storage id -> record index of the last in-place write
        self._alias_to: int | None = None  # while expanding GQA heads: the storage id they stand for
        self._hint: dict[str, Any] = {}
        self._schema: dict[Any, tuple[list[str], list[int], list[Any]]] = {}
        self._hooks: list[Any] = []
        self._modes = (_Functions(self), _Dispatch(self))

    # --- marks used by hwsim.trace.step -------------------------------------------------------------

    @contextmanager
    def in_phase(self, phase: str) -> Iterator[None]:
        previous, self.phase = self.phase, phase
        try:
            yield
        finally:
            self.phase = previous

    @contextmanager
    def in_scope(self, scope: str) -> Iterator[None]:
        self._scopes.append(scope)
        try:
            yield
        finally:
            self._scopes.pop()

    def __enter__(self) -> Recorder:
        if self.model is not None:
            for name, module in self.model.named_modules():
                self._hooks.append(module.register_forward_pre_hook(self._pre_hook(name)))
                self._hooks.append(module.register_forward_hook(self._post_hook))
        for mode in self._modes:
            mode.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        for mode in reversed(self._modes):
            mode.__exit__(*exc)
        for handle in self._hooks:
            handle.remove()
        self._hooks.clear()

    def _pre_hook(self, name: str):  # noqa: ANN202
        def hook(_module: nn.Module, _args: Any) -> None:
            self._scopes.append(name)

        return hook

    def _post_hook(self, _module: nn.Module, _args: Any, out: Any) -> None:
        # Tag what the module made before leaving its scope: an autograd.Function's output (the zoo's
        # RMS norm) does not pass through the torch-function mode that tags every other op's output.
        if self.phase == "fwd" and torch.is_grad_enabled():
            self.tag(out)
        self._scopes.pop()  # returns None: a value would replace the module's output

    # --- storages -----------------------------------------------------------------------------------

    def storage_id(self, t: torch.Tensor) -> int:
        """The id of a tensor's storage, registering storages the step did not produce (inputs, params)."""
        storage = t.untyped_storage()
        key = storage._cdata
        sid = self._sid.get(key)
        if sid is None:
            sid = self._sid[key] = self._next_sid
            self._next_sid += 1
            self._keep.append(storage)
        return sid

    def register(self, out: Any) -> None:
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor):
                if self._alias_to is not None:
                    self._alias(t, self._alias_to)
                else:
                    self.storage_id(t)

    def _alias(self, t: torch.Tensor, sid: int) -> None:
        storage = t.untyped_storage()
        if storage._cdata not in self._sid:
            self._sid[storage._cdata] = sid
            self._keep.append(storage)

    def _schema_of(self, func: Any) -> tuple[list[str], list[int], list[Any]]:
        info = self._schema.get(func)
        if info is None:
            arguments = func._schema.arguments
            names = [a.name for a in arguments]
            written = [
                i for i, a in enumerate(arguments) if a.alias_info is not None and a.alias_info.is_write
            ]
            defaults = [a.default_value if a.has_default_value() else None for a in arguments]
            info = self._schema[func] = (names, written, defaults)
        return info

    # --- recording ----------------------------------------------------------------------------------

    def record(self, func: Any, args: tuple, kwargs: dict, out: Any) -> None:
        if self._alias_to is not None:
            self.register(out)
            return
        if self.phase == "bwd" and self._in_gqa_expand_backward(args, kwargs, out):
            return
        names, written, defaults = self._schema_of(func)
        named = dict(zip(names, defaults, strict=True))
        named.update(zip(names, args, strict=False))
        named.update(kwargs)
        inputs = [t for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
        outputs = [t for t in tree_leaves(out) if isinstance(t, torch.Tensor)]
        known = self._next_sid  # ids from here on are storages this op allocates
        reads = [] if func in _SHAPE_ONLY else [self.storage_id(t) for t in inputs]
        mutated = [
            self.storage_id(t)
            for i in written
            for t in tree_leaves(named[names[i]])
            if isinstance(t, torch.Tensor)
        ]
        makes = []
        for t in outputs:
            sid = self.storage_id(t)
            if sid >= known and all(m[0] != sid for m in makes):
                makes.append((sid, float(t.untyped_storage().nbytes())))
        if not makes and not mutated:
            return  # an alias of its input (e.g. _unsafe_view): nothing moves
        deps = set()
        for sid in reads:
            for table in (self._producer, self._writer):
                if sid in table:
                    deps.add(table[sid])
        phase = self.phase
        scope = self._scopes[-1]
        hint = self._hint
        self._hint = {}
        if phase == "bwd":
            node = torch._C._current_autograd_node()
            if node is not None:
                metadata = node.metadata
                scope = metadata.get("scope", scope)
                hint = metadata.get("hint", hint)
        target = str(func)
        cost, costed = evaluate(Call(target, named, inputs, outputs, hint))
        attrs = dict(cost.attrs)
        if func.namespace == "hwsim":
            lowered = passes(target, args, kwargs)
            if lowered is not None:
                attrs["passes"] = lowered
        floats = [t for t in inputs if t.is_floating_point()] or outputs
        index = len(self.records)
        match = _LAYER.match(scope)
        self.records.append(
            Rec(
                target=target,
                op_class=cost.op_class,
                phase=phase,
                scope=scope,
                inputs=tuple(_meta(t) for t in inputs),
                outputs=tuple(_meta(t) for t in outputs),
                flop=cost.flop,
                bytes_read=cost.bytes_read or 0.0,
                bytes_written=cost.bytes_written or 0.0,
                dtype=dtype_name(floats[0].dtype) if floats else "fp32",
                costed=costed,
                attrs=attrs,
                deps=tuple(sorted(deps)),
                reads=tuple(dict.fromkeys(reads)),
                makes=tuple(makes),
                layer=int(match.group(1)) if match else None,
            )
        )
        for sid, _ in makes:
            self._producer[sid] = index
        for sid in mutated:
            self._writer[sid] = index

    def _in_gqa_expand_backward(self, args: tuple, kwargs: dict, out: Any) -> bool:
        """In the backward of a grouped-query expansion (`_expand`), alias the outputs to the incoming
        gradient: the real kernels read K/V heads unexpanded and run no such sum."""
        node = torch._C._current_autograd_node()
        if node is None or not node.metadata.get("gqa_expand"):
            return False
        grads = [t for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
        if not grads:
            return False
        sid = self.storage_id(grads[0])
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor):
                self._alias(t, sid)
        return True

    def tag(self, out: Any) -> None:
        """Write the current scope into every new autograd node reachable from `out`."""
        scope = self._scopes[-1]
        stack = [t.grad_fn for t in tree_leaves(out) if isinstance(t, torch.Tensor) and t.grad_fn is not None]
        while stack:
            node = stack.pop()
            if node is None:
                continue
            metadata = node.metadata
            if "scope" in metadata:
                continue
            metadata["scope"] = scope
            stack.extend(nxt for nxt, _ in node.next_functions)

    # --- attention redirect -------------------------------------------------------------------------

    def fused_attention(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        attn_mask: Any = None,
        dropout_p: float = 0.0,
        is_causal: bool = False,
        scale: float | None = None,
        enable_gqa: bool = False,
    ) -> torch.Tensor | None:
        """The fused kernel for F.scaled_dot_product_attention, or None to let the plain call run."""
        if attn_mask is not None or dropout_p or query.dim() != 4 or query.device.type != "meta":
            return None
        heads, kv_heads = query.shape[1], key.shape[1]
        if kv_heads != heads:
            if not enable_gqa or heads % kv_heads:
                return None
            key, value = self._expand(key, heads), self._expand(value, heads)
        hint = {"kv_heads": kv_heads}
        self._hint = hint
        if query.dtype in (torch.bfloat16, torch.float16):
            out = aten._scaled_dot_product_flash_attention(
                query, key, value, 0.0, is_causal, False, scale=scale
            )[0]
        else:
            grad = torch.is_grad_enabled() and any(t.requires_grad for t in (query, key, value))
            out = aten._scaled_dot_product_efficient_attention(
                query, key, value, None, grad, 0.0, is_causal, scale=scale
            )[0]
        if out.grad_fn is not None:
            out.grad_fn.metadata["hint"] = hint
        return out

    def _expand(self, t: torch.Tensor, heads: int) -> torch.Tensor:
        batch, kv_heads, seq, dim = t.shape
        self._alias_to = self.storage_id(t)
        try:
            out = (
                t[:, :, None]
                .expand(batch, kv_heads, heads // kv_heads, seq, dim)
                .reshape(batch, heads, seq, dim)
            )
        finally:
            self._alias_to = None
        # The backward of the expansion (a sum over each group of query heads) is as absent from the
        # real kernels as the expansion: mark its autograd nodes so that `record` aliases them too.
        node, stop = out.grad_fn, t.grad_fn
        while node is not None and node is not stop:
            node.metadata["gqa_expand"] = True
            node = node.next_functions[0][0] if node.next_functions else None
        return out
