"""Stretch a trace of a 3-block model into the trace of the same model with L identical blocks.

Why: tracing every block of GPT-3 175B takes seconds; the blocks are identical, so the tracer
traces three and copies. Block 0 (the first, reading the embedding), block 2 (the last, feeding the
head) and block 1 (an interior block: its forward reads the block before, its backward the block
after) are the templates: full-model block 0 is template 0, blocks 1..L-2 are copies of template 1,
block L-1 is template 2.

Each record belongs to the block its scope names (`layers.N.`); a scope-less record between two
records of the same block in the same phase belongs to that block too. Copying template block t
to block j shifts it by d = j - t: its scope `layers.t.x` becomes `layers.j.x`, and a dependency
on the record at position p of template block b becomes the record at position p of block b + d
(records outside the blocks keep their single copy). Records outside the blocks that depend on a
block can only name the first or the last one (0 -> 0, 2 -> L-1). Storages are mapped the same way
so that the lifetime analysis sees one storage per block. If the three templates do not match op
for op, or the trace does not have this shape, `ReplicationError` is raised and the caller traces
the full model.
"""

from __future__ import annotations

from dataclasses import replace

from hwsim.trace.recorder import Rec

__all__ = ["TEMPLATE_LAYERS", "ReplicationError", "replicate"]

TEMPLATE_LAYERS = 3


class ReplicationError(Exception):
    """The trace cannot be replicated block by block."""


def _layers(records: list[Rec]) -> list[int | None]:
    """Block of each record; a scope-less record between two records of one block, in the same
    phase, belongs to that block too."""
    layers = [r.layer for r in records]
    last_seen: tuple[int, str] | None = None
    pending: list[int] = []
    for i, r in enumerate(records):
        if r.layer is None:
            if last_seen is not None:
                pending.append(i)
            continue
        if last_seen == (r.layer, r.phase) and all(records[j].phase == r.phase for j in pending):
            for j in pending:
                layers[j] = r.layer
        pending = []
        last_seen = (r.layer, r.phase)
    return layers


def _signature(r: Rec, layer: int) -> tuple:
    scope = r.scope.removeprefix(f"layers.{layer}")
    return (r.target, r.phase, scope, r.inputs, r.outputs, r.flop)


def _rename(scope: str, template: int, block: int) -> str:
    prefix = f"layers.{template}"
    if scope == prefix or scope.startswith(prefix + "."):
        return f"layers.{block}" + scope[len(prefix) :]
    return scope


def replicate(records: list[Rec], layers: int) -> list[Rec]:
    """The records of the `layers`-block model, from those of its 3-block trace (see module docstring)."""
    if layers <= TEMPLATE_LAYERS:
        raise ReplicationError(f"{layers} blocks need no replication")
    block = _layers(records)
    position: list[int] = [0] * len(records)
    members: dict[int, list[int]] = {0: [], 1: [], 2: []}
    for i, b in enumerate(block):
        if b is not None:
            if b not in members:
                raise ReplicationError(f"record {i} names block {b}")
            position[i] = len(members[b])
            members[b].append(i)
    sizes = {len(v) for v in members.values()}
    if len(sizes) != 1:
        raise ReplicationError(f"blocks differ in op count: {[len(v) for v in members.values()]}")
    for p in range(len(members[0])):
        sigs = {_signature(records[members[b][p]], b) for b in (0, 1, 2)}
        if len(sigs) != 1:
            raise ReplicationError(f"blocks differ at op {p}: {sorted(str(s[0]) for s in sigs)}")

    # Output order: walk the trace; a run of template-1 records expands into blocks 1..L-2, in
    # ascending order when the run follows block 0 (forward, optimizer), descending after block 2.
    runs: list[tuple[int | None, range]] = []  # maximal runs of one block; records outside, one by one
    i = 0
    while i < len(records):
        end = i + 1
        while block[i] is not None and end < len(records) and block[end] == block[i]:
            end += 1
        runs.append((block[i], range(i, end)))
        i = end
    edges = [b for b, _ in runs if b is not None]
    for n, b in enumerate(edges):
        if b == 1 and not (0 < n < len(edges) - 1 and {edges[n - 1], edges[n + 1]} == {0, 2}):
            raise ReplicationError("an interior block's ops are not between the first and the last block's")
    order: list[tuple[int, int]] = []  # (record index, full-model block or -1 outside the blocks)
    previous_edge = None
    for b, run in runs:
        if b is None:
            order.append((run[0], -1))
        elif b == 1:
            blocks = range(1, layers - 1) if previous_edge == 0 else range(layers - 2, 0, -1)
            order.extend((k, j) for j in blocks for k in run)
        else:
            order.extend((k, 0 if b == 0 else layers - 1) for k in run)
            previous_edge = b

    # Records are named by (full block, position in the block), or (-1, index) outside the blocks;
    # storages by the record that makes them and which of its outputs they are.
    new_index: dict[tuple[int, int], int] = {}
    for n, (k, j) in enumerate(order):
        new_index[(j, position[k]) if j >= 0 else (-1, k)] = n
    made_by = {sid: (i, slot) for i, r in enumerate(records) for slot, (sid, _) in enumerate(r.makes)}
    storage: dict[tuple, int] = {}

    def shifted(b: int | None, shift: int | None) -> int | None:
        if b is None:
            return None
        if shift is None:  # a record outside the blocks
            if b == 1:
                raise ReplicationError("a record outside the blocks depends on an interior block")
            return 0 if b == 0 else layers - 1
        return b + shift

    def record_key(i: int, shift: int | None) -> tuple[int, int]:
        b = shifted(block[i], shift)
        return (-1, i) if b is None else (b, position[i])

    def sid_of(sid: int, shift: int | None) -> int:
        made = made_by.get(sid)
        key = ("external", sid) if made is None else (*record_key(made[0], shift), made[1])
        new = storage.get(key)
        if new is None:
            new = storage[key] = len(storage)
        return new

    out: list[Rec] = []
    for k, j in order:
        r = records[k]
        template = block[k]
        shift = None if j < 0 else j - template
        out.append(
            replace(
                r,
                scope=r.scope if j < 0 else _rename(r.scope, template, j),
                layer=None if j < 0 else j,
                deps=tuple(sorted(new_index[record_key(d, shift)] for d in r.deps)),
                reads=tuple(sid_of(s, shift) for s in r.reads),
                makes=tuple((sid_of(s, shift), size) for s, size in r.makes),
            )
        )
    return out
