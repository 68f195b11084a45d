"""The operator graph: a workload as ops with shapes, dtypes, FLOPs, bytes and dependencies; never a time.

A Graph is a fact about the workload. It is produced by hwsim.trace, read by hwsim.cost and
hwsim.estimate, and written to and read from JSON. This module imports nothing from hwsim.

FLOPs count a multiply-add as 2 FLOP. Bytes are what an op must move to and from device memory if
none of its operands is already on chip (the roofline convention): bytes_read is the sum of its
input tensors, bytes_written the sum of its outputs, unless its cost rule says otherwise (an
in-place update reads and writes the same tensor; a fused attention kernel never writes its scores).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "DTYPE_BYTES",
    "LOWERED_TARGETS",
    "OP_CLASSES",
    "PHASES",
    "OP_ENTRY_KEYS",
    "Graph",
    "MemoryFacts",
    "Op",
    "TensorMeta",
    "op_entry_key",
    "renumber",
]

SCHEMA = "hwsim.graph/1"

PHASES: tuple[str, ...] = ("fwd", "bwd", "optim")

# Fused custom ops whose graph op also carries attrs["passes"]: the ATen passes their eager code runs
# where no fused kernel exists (hwsim.trace.lowering); a calibration's `unfused_ops` names them.
LOWERED_TARGETS: tuple[str, ...] = ("hwsim.rms_norm.default", "hwsim.rms_norm_backward.default")

# Ops a calibration may cost with an entry of their own (`op_entries`, measured on the op itself) instead
# of their class's: the activations whose arithmetic, not their bytes, can set their time (on one Xeon
# core, per element: add 0.18 ns, exact GELU 0.44, SiLU 0.50, GELU's tanh form 3.0), and the zoo's RMS
# norm ops, whose CPU implementation is Python calling several ATen ops (a per-call cost no pass
# model sees). The key is the target, with "[tanh]" for GELU's tanh approximation (the `approximate`
# argument, kept in the op's attrs).
OP_ENTRY_KEYS: tuple[str, ...] = (
    "aten.gelu.default",
    "aten.gelu.default[tanh]",
    "aten.gelu_backward.default",
    "aten.gelu_backward.default[tanh]",
    "aten.silu.default",
    "aten.silu_backward.default",
    *LOWERED_TARGETS,
)


def op_entry_key(target: str, attrs: Mapping[str, Any]) -> str:
    """The `op_entries` calibration key of an op: its target, plus "[tanh]" for tanh-approximated GELU."""
    return f"{target}[tanh]" if attrs.get("approximate") == "tanh" else target


# Op classes: what kind of kernel an op is, which decides its efficiency curve.
#   matmul      dense GEMM / batched GEMM (tensor cores)           compute-bound when large
#   attention   fused (flash-style) attention, forward or backward  compute-bound when long
#   elementwise pointwise math (add, mul, gelu, silu, casts)        memory-bound
#   norm        layer norm / RMS norm and their backward            memory-bound
#   softmax     softmax / log-softmax and their backward            memory-bound
#   reduction   sums and means over axes                            memory-bound
#   embedding   gathers, scatters and index ops                     memory-bound
#   copy        materialising copies, concatenation, KV-cache write memory-bound
#   optimizer   the fused AdamW update                              memory-bound
#   collective  communication (added by the parallel plan)          network-bound
#   other       an op without a cost rule: costed as memory-bound and listed as uncosted
OP_CLASSES: tuple[str, ...] = (
    "matmul",
    "attention",
    "elementwise",
    "norm",
    "softmax",
    "reduction",
    "embedding",
    "copy",
    "optimizer",
    "collective",
    "other",
)

# Bytes per element of each dtype hwsim knows, named the way YAML and reports name them.
DTYPE_BYTES: Mapping[str, float] = {
    "fp64": 8,
    "fp32": 4,
    "tf32": 4,
    "bf16": 2,
    "fp16": 2,
    "fp8": 1,
    "int64": 8,
    "int32": 4,
    "int16": 2,
    "int8": 1,
    "uint8": 1,
    "bool": 1,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class TensorMeta:
    """Shape and dtype of one tensor."""

    shape: tuple[int, ...]
    dtype: str

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self) -> float:
        return self.numel * DTYPE_BYTES[self.dtype]

    def to_json(self) -> list[Any]:
        return [list(self.shape), self.dtype]

    @classmethod
    def from_json(cls, data: list[Any]) -> TensorMeta:
        return cls(shape=tuple(int(d) for d in data[0]), dtype=str(data[1]))


@dataclass(frozen=True, slots=True, kw_only=True)
class Op:
    """One executed kernel-level operator."""

    id: int  # position in execution order, 0-based, unique in its graph
    target: str  # the ATen overload, e.g. "aten.mm.default"
    op_class: str  # one of OP_CLASSES
    phase: str  # one of PHASES
    scope: str  # module path, e.g. "layers.3.attn.wq"; "" for ops outside any module
    inputs: tuple[TensorMeta, ...]
    outputs: tuple[TensorMeta, ...]
    flop: float  # 2 per multiply-add
    bytes_read: float
    bytes_written: float
    dtype: str  # the dtype whose compute roof applies (the inputs' dtype for a matmul)
    deps: tuple[int, ...] = ()  # ids of ops whose results this op reads (or must follow)
    costed: bool = True  # False: no cost rule knew this op; it is costed as memory-bound and listed
    attrs: Mapping[str, Any] = field(default_factory=dict)  # rule-specific facts, e.g. {"causal": True}

    @property
    def bytes(self) -> float:
        return self.bytes_read + self.bytes_written

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "target": self.target,
            "op_class": self.op_class,
            "phase": self.phase,
            "scope": self.scope,
            "inputs": [t.to_json() for t in self.inputs],
            "outputs": [t.to_json() for t in self.outputs],
            "flop": self.flop,
            "bytes_read": self.bytes_read,
            "bytes_written": self.bytes_written,
            "dtype": self.dtype,
            "deps": list(self.deps),
            "costed": self.costed,
            "attrs": dict(self.attrs),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Op:
        return cls(
            id=int(data["id"]),
            target=str(data["target"]),
            op_class=str(data["op_class"]),
            phase=str(data["phase"]),
            scope=str(data["scope"]),
            inputs=tuple(TensorMeta.from_json(t) for t in data["inputs"]),
            outputs=tuple(TensorMeta.from_json(t) for t in data["outputs"]),
            flop=float(data["flop"]),
            bytes_read=float(data["bytes_read"]),
            bytes_written=float(data["bytes_written"]),
            dtype=str(data["dtype"]),
            deps=tuple(int(d) for d in data["deps"]),
            costed=bool(data["costed"]),
            attrs=dict(data.get("attrs", {})),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryFacts:
    """Bytes one replica of the workload holds in device memory, by what they are for.

    activations: the peak of tensors produced in the forward pass and kept alive for the backward
    pass, from tensor lifetimes in the graph (0 for inference). transient: the peak of everything
    else alive at once (temporaries, logits, gradients in flight) above the persistent state, also
    from lifetimes. kv_cache: the cache the step reads and writes (decode and prefill).
    """

    weights: float
    gradients: float = 0.0
    optimizer_states: float = 0.0
    activations: float = 0.0
    kv_cache: float = 0.0
    transient: float = 0.0

    @property
    def total(self) -> float:
        return (
            self.weights
            + self.gradients
            + self.optimizer_states
            + self.activations
            + self.kv_cache
            + self.transient
        )

    def breakdown(self) -> dict[str, float]:
        return {
            "weights": self.weights,
            "gradients": self.gradients,
            "optimizer_states": self.optimizer_states,
            "activations": self.activations,
            "kv_cache": self.kv_cache,
            "transient": self.transient,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Graph:
    """A traced workload step: ops in execution order plus the facts needed to judge them."""

    name: str  # the workload's name
    mode: str  # "train", "prefill" or "decode"
    ops: tuple[Op, ...]
    params: int  # parameters in the model (all experts counted)
    active_params: int  # parameters one token passes through (== params unless mixture-of-experts)
    tokens: int  # tokens processed by one step: train batch*seq, prefill batch*prompt, decode batch
    batch: int  # sequences per step
    dtype: str  # the workload's compute dtype
    memory: MemoryFacts
    info: Mapping[str, Any] = field(default_factory=dict)  # workload facts (seq_len, layers, ...)

    def total(self, attr: str = "flop", *, phase: str | None = None) -> float:
        """Sum of an op attribute ("flop", "bytes_read", "bytes_written", "bytes") over the graph."""
        return sum(getattr(op, attr) for op in self.ops if phase is None or op.phase == phase)

    def by(self, key: str, attr: str = "flop") -> dict[str, float]:
        """Sum of `attr` grouped by an op field ("phase", "op_class", "scope", "target")."""
        out: dict[str, float] = defaultdict(float)
        for op in self.ops:
            out[getattr(op, key)] += getattr(op, attr)
        return dict(out)

    def uncosted(self) -> dict[str, int]:
        """ATen targets that no cost rule knew, with how many times each ran."""
        out: dict[str, int] = defaultdict(int)
        for op in self.ops:
            if not op.costed:
                out[op.target] += 1
        return dict(out)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "name": self.name,
            "mode": self.mode,
            "params": self.params,
            "active_params": self.active_params,
            "tokens": self.tokens,
            "batch": self.batch,
            "dtype": self.dtype,
            "memory": self.memory.breakdown(),
            "info": dict(self.info),
            "ops": [op.to_json() for op in self.ops],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Graph:
        if data.get("schema") != SCHEMA:
            raise ValueError(f"expected schema {SCHEMA!r}, got {data.get('schema')!r}")
        return cls(
            name=str(data["name"]),
            mode=str(data["mode"]),
            ops=tuple(Op.from_json(o) for o in data["ops"]),
            params=int(data["params"]),
            active_params=int(data["active_params"]),
            tokens=int(data["tokens"]),
            batch=int(data["batch"]),
            dtype=str(data["dtype"]),
            memory=MemoryFacts(**{k: float(v) for k, v in data["memory"].items()}),
            info=dict(data.get("info", {})),
        )


def renumber(ops: Iterable[Op]) -> tuple[Op, ...]:
    """Return ops with ids 0..n-1 in the given order, dependencies remapped; ids not present are dropped."""
    ops = list(ops)
    new_id = {op.id: i for i, op in enumerate(ops)}
    out = []
    for i, op in enumerate(ops):
        deps = tuple(sorted({new_id[d] for d in op.deps if d in new_id}))
        out.append(replace(op, id=i, deps=deps))
    return tuple(out)
