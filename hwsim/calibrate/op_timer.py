"""The per-op timer of a real step: a dispatch mode that times every ATen call hwsim's recorder keeps.

hwsim.calibrate.measure runs a workload's step inside it (the module doc there says how each clock
reads): each call's target, input shapes and clock value are kept in order, and `align` pairs them
with the recorder's ops. A call that raises is recorded with its error and replaced by zeros of the
shapes its meta kernel gives (`_substitute`), so that the rest of the step still runs and is timed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hwsim.calibrate.microbench import error_text

__all__ = ["OpHook", "align", "op_timer"]

OpHook = Callable[[str, int], None]  # (target, call number in the step); raising fails that op


def _substitute(func: Any, args: tuple, kwargs: dict) -> Any:
    """Outputs standing in for a failed op: its meta kernel's shapes, zeros on the real device;
    an output that is one of its (in-place) arguments is that argument."""
    import torch
    from torch.utils._pytree import tree_map

    real: dict[int, torch.Tensor] = {}
    device: list[torch.device] = []

    def to_meta(x: Any) -> Any:
        if not isinstance(x, torch.Tensor):
            return x
        device.append(x.device)
        m = x.to("meta")
        real[id(m)] = x
        return m

    out = func(*tree_map(to_meta, args), **tree_map(to_meta, kwargs))
    where = next((d for d in device if d.type != "cpu"), device[0] if device else torch.device("cpu"))

    def to_real(x: Any) -> Any:
        if not isinstance(x, torch.Tensor):
            return x
        if id(x) in real:
            return real[id(x)]
        return torch.zeros(x.shape, dtype=x.dtype, device=where)

    return tree_map(to_real, out)


def op_timer(clock: Any, hook: OpHook | None, timing: bool) -> Any:
    """A dispatch mode that times (`timing`) or only watches every ATen call the recorder keeps."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_leaves

    from hwsim.trace.recorder import SKIPPED_TARGETS

    class _OpTimer(TorchDispatchMode):
        """Times every ATen call the recorder would keep; a call that raises is recorded and replaced."""

        def __init__(self) -> None:
            super().__init__()
            # (target, input shapes, clock value or None, error text)
            self.calls: list[tuple[str, tuple[tuple[int, ...], ...], Any, str]] = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
            kwargs = kwargs or {}
            if func in SKIPPED_TARGETS or func.namespace == "profiler" or func.is_view:
                return func(*args, **kwargs)
            target = str(func)
            shapes = tuple(tuple(t.shape) for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor))
            try:
                if hook is not None:
                    hook(target, len(self.calls))
                token = clock.start() if timing else None
                out = func(*args, **kwargs)
                value = clock.stop(token) if timing else None
            except Exception as exc:  # noqa: BLE001 - one failing op is recorded; the step goes on
                self.calls.append((target, shapes, None, error_text(exc)))
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                return _substitute(func, args, kwargs)
            self.calls.append((target, shapes, value, ""))
            return out

    return _OpTimer()


def align(records: Sequence[Any], calls: Sequence[tuple]) -> list[tuple | None]:
    """For each recorded op, the timed call with the same target and input shapes, in order (greedy:
    calls the recorder drops, such as ops that only alias their input, are passed over)."""
    out: list[tuple | None] = []
    j = 0
    for rec in records:
        shapes = tuple(t.shape for t in rec.inputs)
        k = j
        while k < len(calls) and (calls[k][0] != rec.target or calls[k][1] != shapes):
            k += 1
        if k == len(calls):
            out.append(None)
            continue
        out.append(calls[k])
        j = k + 1
    return out
