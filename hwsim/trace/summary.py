"""A compact summary of a traced Graph for the `hwsim trace` command: op counts, FLOPs and bytes by phase
and op class, parameters, tokens, memory and uncosted ops."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hwsim.ir import Graph

__all__ = ["summarize"]


def _rollup(graph: Graph, key: str) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = defaultdict(
        lambda: {"ops": 0, "flop": 0.0, "bytes_read": 0.0, "bytes_written": 0.0}
    )
    for op in graph.ops:
        row = out[getattr(op, key)]
        row["ops"] += 1
        row["flop"] += op.flop
        row["bytes_read"] += op.bytes_read
        row["bytes_written"] += op.bytes_written
    return dict(out)


def summarize(graph: Graph) -> dict[str, Any]:
    """Plain-data summary: totals, `by_phase` and `by_op_class` rows (ops, flop, bytes_read,
    bytes_written), parameters, tokens, the memory breakdown and the uncosted targets."""
    return {
        "name": graph.name,
        "mode": graph.mode,
        "dtype": graph.dtype,
        "batch": graph.batch,
        "tokens": graph.tokens,
        "params": graph.params,
        "active_params": graph.active_params,
        "ops": len(graph.ops),
        "flop": graph.total("flop"),
        "bytes_read": graph.total("bytes_read"),
        "bytes_written": graph.total("bytes_written"),
        "by_phase": _rollup(graph, "phase"),
        "by_op_class": _rollup(graph, "op_class"),
        "memory": {**graph.memory.breakdown(), "total": graph.memory.total},
        "uncosted": graph.uncosted(),
        "info": dict(graph.info),
    }
