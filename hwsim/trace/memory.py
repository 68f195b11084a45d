"""Activation and transient memory from tensor lifetimes in a trace.

Lifetime rule (per storage, since views share their base's memory): a storage an op allocates is
live from that op until the last op that reads it or writes into it; one never read is live during
the op that made it only (the step's result is made by the last op, or is the scalar loss).
Storages the step did not allocate (parameters, inputs, the KV cache, optimizer state) and the
parameter gradients are persistent state, counted from the real tensors, not here.

- activations: the peak over the step of forward-made storages that a backward op reads (saved for
  backward). 0 for inference.
- transient: the peak of all live op-made storages minus that activation peak, so that
  weights + gradients + optimizer states + activations + kv_cache + transient is the step's
  lifetime peak (the two peaks need not coincide; this split never counts a byte twice).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from hwsim.trace.recorder import Rec

__all__ = ["live_peaks"]


def live_peaks(records: Sequence[Rec], *, persistent: Collection[int] = ()) -> tuple[float, float]:
    """(activations, transient) in bytes for the records (see module docstring)."""
    born: dict[int, int] = {}
    size: dict[int, float] = {}
    phase: dict[int, str] = {}
    for i, r in enumerate(records):
        for sid, nbytes in r.makes:
            if sid in persistent:
                continue
            born[sid] = i
            size[sid] = nbytes
            phase[sid] = r.phase
    last: dict[int, int] = {}
    saved: set[int] = set()
    for i, r in enumerate(records):
        for sid in r.reads:
            if sid in born:
                last[sid] = i
                if r.phase == "bwd" and phase[sid] == "fwd":
                    saved.add(sid)
    delta_all = [0.0] * (len(records) + 1)
    delta_saved = [0.0] * (len(records) + 1)
    for sid, start in born.items():
        stop = last.get(sid, start)
        delta_all[start] += size[sid]
        delta_all[stop + 1] -= size[sid]
        if sid in saved:
            delta_saved[start] += size[sid]
            delta_saved[stop + 1] -= size[sid]
    live = live_saved = peak = peak_saved = 0.0
    for i in range(len(records)):
        live += delta_all[i]
        live_saved += delta_saved[i]
        peak = max(peak, live)
        peak_saved = max(peak_saved, live_saved)
    return peak_saved, max(peak - peak_saved, 0.0)
