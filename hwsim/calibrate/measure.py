"""Run a workload's real model (random weights, synthetic tokens) and time it per op and end to end.

What is measured, and how:

- The model is built on the device with random weights (seed 0) and the step is the tracer's own
  step code (hwsim.trace.step.run_step): the same ops that hwsim.trace records on meta, for real.
- Ops are identified by one untimed step under hwsim.trace.recorder.Recorder (the tracer's filter of
  views and bookkeeping, its scopes, phases, op classes and cost rules): `MeasuredOp.index` is the
  position in that list. This step is also the first warm-up.
- End to end: `warmup` more plain steps, then `reps` timed steps with nothing attached (no dispatch
  mode, no hooks), min and median recorded. Gradients are reset to None between training steps,
  outside the timed window, as `optimizer.zero_grad()` does, so that every step runs the same ops.
- Per op: `reps` more steps, each right after a plain one (the two alternate, so that a slow spell
  of a shared host, which lasts seconds, slows both alike: before this, a plain step's median and
  the timed ops' one were taken a second apart and their difference, the time outside ops, read
  from -11 to +47 us per op on one host within one validation), inside a dispatch mode
  (hwsim.calibrate.op_timer) that times each ATen call the recorder keeps; each timed call is paired
  with the recorder's op of the same target and input shapes, in order. Per op, min and median over
  the reps. On the CPU the clock is `time.perf_counter_ns` around the call: the kernel plus the C++
  dispatch below the Python mode, not the Python, autograd and view work around it (which is the
  end-to-end step minus the sum of ops).
  On CUDA a pair of CUDA events is recorded on the current stream immediately before and after the
  call and read after the step synchronises: correct by construction for ops that launch on the
  current stream (every single-device ATen op); when the GPU is idle waiting for the host, the span
  also holds the host's launch latency, i.e. what the estimate calls kernel time plus launch wait.
- Threads: torch's intra-op threads are pinned to `threads` (1 by default: on a shared host more
  threads spin and wait on each other) and restored afterwards.
- Subnormals are flushed to zero on the CPU while measuring (`torch.set_flush_denormal`): random
  weights are not trained ones (a GPT with tied N(0, 1) embeddings has logits so peaked that its
  gradients underflow to subnormals, and x86's subnormal path made a 256x256x1024 fp32 matmul 130x
  slower). That would measure the data, not the kernel, which the calibration (randn inputs) fits.

A failing op (out of memory, a kernel the device lacks) is recorded as `failed` with its error and
skipped: its outputs are replaced by zero tensors of the shapes its meta kernel gives, so that the rest
of the step still runs and is timed. A step that raises end to end is a `failed` step row.

Rows go to `ops.csv` (table OPS) beside `host.json` (hwsim.calibrate.results.check_host): one row
per op per workload, three whole-step rows: `step` (the plain step), `ops` (per timed step, the sum
of its timed ops) and `floor` (a one-element add timed as the ops are: what the timer itself costs),
and a `bench` row per microbenchmark asked for (re-timed as `hwsim calibrate` times it, to compare).
Each is flushed as written: an interrupted run keeps its rows and a rerun measures only what is
missing. Workloads are told apart by their label (name plus overrides).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwsim.calibrate.clocks import clock_for
from hwsim.calibrate.device import HostInfo, describe_host, pinned_threads
from hwsim.calibrate.microbench import MIN_REPS, error_text
from hwsim.calibrate.op_timer import OpHook, align, op_timer
from hwsim.calibrate.results import RowWriter, Table, check_host, read_rows
from hwsim.errors import InputError
from hwsim.yamlio import display_path

__all__ = ["OPS", "MeasuredOp", "Measurement", "format_shapes", "measure", "parse_shapes", "time_bench",
           "workload_label"]  # fmt: skip

# kind: "op" (index: position among the recorder's ops), a whole-step row (index -1: step, ops, floor)
# or "bench" (index: position in the benches asked for; target: "kind dtype shape");
# ops: how many ops the step has; shapes: input tensor shapes, "x"-joined, ";"-separated, "()" scalar;
# flop and bytes: the tracer's cost rules on the real tensors; min_s, median_s: seconds over `reps`.
OPS = Table(
    columns=("workload", "kind", "index", "ops", "target", "op_class", "phase", "scope", "shapes", "dtype",
             "flop", "bytes", "min_s", "median_s", "reps", "status", "error"),
    key=("workload", "kind", "index"),
    ints=("index", "ops", "reps"),
    floats=("flop", "bytes", "min_s", "median_s"),
)  # fmt: skip


ROUND_MARK = "@round"  # label of round n > 1 of a workload: f"{label}{ROUND_MARK}{n}"


def workload_label(name: str, overrides: Sequence[str] = ()) -> str:
    """How a workload is named in files: "llama-tiny-train", or "llama-tiny-train[model.layers=2]"."""
    return f"{name}[{','.join(overrides)}]" if overrides else name


def format_shapes(shapes: Sequence[Sequence[int]]) -> str:
    return ";".join("x".join(str(d) for d in s) if len(s) else "()" for s in shapes)


def parse_shapes(text: str) -> tuple[tuple[int, ...], ...]:
    if not text:
        return ()
    return tuple(() if s == "()" else tuple(int(d) for d in s.split("x")) for s in text.split(";"))


@dataclass(frozen=True, slots=True, kw_only=True)
class MeasuredOp:
    """One op of the real step: identity (as the recorder sees it) and its time over the reps."""

    index: int
    target: str
    op_class: str
    phase: str
    scope: str
    shapes: tuple[tuple[int, ...], ...]
    dtype: str
    flop: float
    bytes: float
    min_s: float
    median_s: float
    status: str  # "ok" or "failed"
    error: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Measurement:
    """One workload measured on one device: the step end to end and every op."""

    label: str
    device: str  # "cpu" or "cuda"
    host: HostInfo
    reps: int
    step_min_s: float
    step_median_s: float
    step_status: str
    step_error: str
    ops: tuple[MeasuredOp, ...]
    ops_sum_min_s: float = float("nan")  # min over the timed steps of the sum of their timed ops
    ops_sum_median_s: float = float("nan")  # ... and the median
    floor_min_s: float = float("nan")  # the timer's floor: a one-element add timed as the ops are
    floor_median_s: float = float("nan")
    benches: dict[str, float] = field(default_factory=dict)  # "kind dtype shape" -> min s (microbench)
    csv_path: str = ""


# --- one workload -----------------------------------------------------------------------------------


class _Run:
    """The model and state of one workload on a device, and one step of it."""

    def __init__(self, workload: Any, device: str) -> None:
        import torch

        from hwsim.models import build_model
        from hwsim.trace.step import make_state

        self.torch, self.workload, self.device = torch, workload, device
        torch.manual_seed(0)
        try:
            with torch.device(device):
                self.model = build_model(workload.model, dtype=workload.task.dtype, where=workload.where)
                self.state = make_state(self.model, workload, device)
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - e.g. the weights do not fit in the device's memory
            raise InputError.one(
                workload.where, "model", f"a model that can be built on {device}", "one that fails",
                error_text(exc),
            ) from None  # fmt: skip

    def reset(self) -> None:
        if self.workload.task.mode == "train":
            self.model.zero_grad(set_to_none=True)

    def step(self, marks: Any = None) -> None:
        from hwsim.trace.step import run_step

        self.reset()
        run_step(self.model, self.state, self.workload, marks)

    def sync(self) -> None:
        if self.device == "cuda":
            self.torch.cuda.synchronize()


def _record(run: _Run, clock: Any) -> list[Any]:
    """(record, error) for the recorder's ops of one real step; failing ops are stood in for."""
    from hwsim.trace.recorder import Recorder
    from hwsim.trace.step import run_step

    guard = op_timer(clock, None, timing=False)
    recorder = Recorder(run.model)
    run.reset()
    try:
        with guard, recorder:  # the guard sits below the recorder: it sees (and survives) each real call
            run_step(run.model, run.state, run.workload, recorder)
        run.sync()
    except Exception:  # noqa: BLE001 - a failure the guard could not stand in for: keep the ops so far
        pass
    calls = align(recorder.records, guard.calls)
    return [(r, call[3] if call is not None else "") for r, call in zip(recorder.records, calls, strict=True)]


def _plain_step(run: _Run, clock: Any) -> float:
    """Seconds of one step with nothing attached."""
    from hwsim.trace.step import run_step

    run.reset()
    run.sync()
    token = clock.start()
    run_step(run.model, run.state, run.workload)
    value = clock.stop(token)
    clock.sync()
    seconds = clock.seconds(value)
    clock.reset()
    return seconds


def _timed_ops_step(
    run: _Run, records: list, clock: Any, hook: OpHook | None, times: list, errors: list
) -> float:
    """One step under the op timer: each op's time appended to `times[i]`, its error kept in `errors[i]`;
    returns the sum of the step's timed ops."""
    timer = op_timer(clock, hook, timing=True)
    try:
        with timer:
            run.step()
    except Exception:  # noqa: BLE001 - the step stopped: the ops not reached are "timed in k of n"
        pass
    clock.sync()  # every recorded event has completed before it is read
    total = 0.0
    for i, call in enumerate(align([r for r, _ in records], timer.calls)):
        if call is not None and call[2] is not None:
            times[i].append(clock.seconds(call[2]))
            total += times[i][-1]
        elif call is not None and call[3]:
            errors[i] = call[3]
    clock.reset()
    return total


def _time_steps(
    run: _Run,
    records: list,
    clock: Any,
    reps: int,
    warmup: int,
    hook: OpHook | None,
    *,
    plain: bool,
    ops: bool,
) -> tuple[list[float], str, list[list[float]], list[str], list[float]]:
    """`reps` plain steps and/or `reps` op-timed steps after `warmup` plain ones, alternating (a plain
    step, then a timed one) so that a slow spell of a shared host slows both alike: the time outside
    ops is their difference. Returns plain-step seconds, the plain step's error ("" if none), per op
    its times and last error, and per timed step the sum of its ops. A plain step that raises stops
    the plain steps (recorded as failed); the timed ones go on."""
    step_times: list[float] = []
    step_error = ""
    times: list[list[float]] = [[] for _ in records]
    errors = [""] * len(records)
    sums: list[float] = []
    try:
        for _ in range(warmup):
            run.step()
        run.sync()
    except Exception as exc:  # noqa: BLE001 - the step fails end to end: recorded, per-op timing goes on
        step_error, plain = error_text(exc), False
    for _ in range(reps):
        if plain:
            try:
                step_times.append(_plain_step(run, clock))
            except Exception as exc:  # noqa: BLE001 - as above
                step_times, step_error, plain = [], error_text(exc), False
        if ops:
            sums.append(_timed_ops_step(run, records, clock, hook, times, errors))
    return step_times, step_error, times, errors, sums


def _floor(clock: Any, device: str, reps: int) -> list[float]:
    """The timer's floor: a one-element add timed exactly as the ops are (100 calls per rep)."""
    import torch

    x = torch.ones(1, device=device)
    timer = op_timer(clock, None, timing=True)
    with timer:
        for _ in range(100 * reps):
            torch.add(x, x)
    clock.sync()
    out = [clock.seconds(call[2]) for call in timer.calls]
    clock.reset()
    return out


def time_bench(
    kind: str, dtype: str, shape: tuple[int, ...], device: str, reps: int = MIN_REPS
) -> tuple[str, list[float]]:
    """A calibration microbenchmark timed as hwsim.calibrate.microbench times it: (name, [min, median])."""
    import torch

    from hwsim.calibrate.kernels import Bench
    from hwsim.calibrate.microbench import bench_call, time_calls

    bench = Bench(kind=kind, dtype=dtype, shape=shape)
    name = f"{kind} {dtype} {bench.shape_text}"
    fn = bench_call(bench, device)
    with torch.no_grad():
        best, median, _ = time_calls(fn, device=device, reps=reps)  # at least microbench.MIN_REPS
    return name, [best, median]


# Whole-step rows, index -1: the step with nothing attached, the per-step sum of the timed ops, the floor.
_SUMMARY = {"step": "(step)", "ops": "(sum of timed ops)", "floor": "(one-element add, timed as ops are)"}


def _row(
    label: str, kind: str, index: int, n: int, reps: int, times: list[float], error: str, rec: Any = None,
    target: str = "",
) -> dict:  # fmt: skip
    """One CSV row: an op (`rec`, the recorder's) or a whole-step row; failed without `reps` times."""
    if not error and len(times) < (reps if rec is not None else 1):
        error = f"timed in {len(times)} of {reps} steps"
    ok, nan = not error, float("nan")
    facts = dict.fromkeys(("op_class", "phase", "scope", "shapes", "dtype"), "")
    facts |= {"target": target or _SUMMARY.get(kind, ""), "flop": 0.0, "bytes": 0.0}
    if rec is not None:
        facts = {"target": rec.target, "op_class": rec.op_class, "phase": rec.phase, "scope": rec.scope,
                 "shapes": format_shapes([t.shape for t in rec.inputs]), "dtype": rec.dtype, "flop": rec.flop,
                 "bytes": rec.bytes_read + rec.bytes_written}  # fmt: skip
    return {"workload": label, "kind": kind, "index": index, "ops": n, **facts,
            "min_s": min(times) if ok else nan, "median_s": statistics.median(times) if ok else nan,
            "reps": reps, "status": "ok" if ok else "failed", "error": error}  # fmt: skip


def _from_rows(label: str, device: str, host: HostInfo, rows: list[dict], csv_path: Path) -> Measurement:
    nan = float("nan")
    whole = {r["kind"]: r for r in rows if r["kind"] in _SUMMARY}
    step, ops_sum, floor = whole.get("step"), whole.get("ops"), whole.get("floor")
    ops = sorted((r for r in rows if r["kind"] == "op"), key=lambda r: r["index"])
    fields = ("index", "target", "op_class", "phase", "scope", "dtype", "flop", "bytes", "min_s", "median_s",
              "status", "error")  # fmt: skip
    measured = tuple(MeasuredOp(shapes=parse_shapes(r["shapes"]), **{k: r[k] for k in fields}) for r in ops)
    return Measurement(
        label=label, device=device, host=host, reps=int(step["reps"]) if step else 0,
        step_min_s=step["min_s"] if step else nan, step_median_s=step["median_s"] if step else nan,
        step_status=step["status"] if step else "failed", step_error=step["error"] if step else "",
        ops_sum_min_s=ops_sum["min_s"] if ops_sum else nan,
        ops_sum_median_s=ops_sum["median_s"] if ops_sum else nan,
        floor_min_s=floor["min_s"] if floor else nan,
        floor_median_s=floor["median_s"] if floor else nan, ops=measured, csv_path=display_path(csv_path),
        benches={r["target"]: r["min_s"] for r in rows if r["kind"] == "bench" and r["status"] == "ok"},
    )  # fmt: skip


def measure(
    workload: Any,
    folder: Path,
    *,
    label: str | None = None,
    device: str = "cpu",
    threads: int = 1,
    reps: int = 10,
    warmup: int = 2,
    hook: OpHook | None = None,
    progress: Callable[[str], None] | None = None,
    fresh: bool = False,
    benches: Sequence[tuple[str, str, tuple[int, ...]]] = (),
) -> Measurement:
    """Measure `workload` (a hwsim.workload.Workload) on `device` into folder/ops.csv; resume-safe.

    Rows already in the file for this label are kept and not measured again; the step is run only
    for what is missing. `hook(target, n)` is called before each timed call (tests slow or fail ops
    with it; an exception it raises fails that op). `reps` >= 1 here; the CLI asks for >= 10.
    `fresh` drops this label's rows first, its later rounds' too (the other workloads' rows are kept),
    and measures anew.
    `benches` (kind, dtype, shape) of hwsim.calibrate.microbench are timed too, just before the step.
    """
    import torch

    if reps < 1:
        raise ValueError(f"reps must be >= 1, got {reps}")
    label = label or workload.name
    host = check_host(folder, describe_host(device, threads))
    csv_path = folder / "ops.csv"
    if fresh and csv_path.exists():  # this label's rows and its later rounds' (hwsim.calibrate.rounds)
        rows = read_rows(csv_path, OPS)
        kept = [r for r in rows if label not in (r["workload"], r["workload"].split(ROUND_MARK)[0])]
        csv_path.replace(old := csv_path.with_suffix(".csv.old"))
        with RowWriter(csv_path, OPS) as writer:
            for r in kept:
                writer.append(r)
        old.unlink()
    rows = [r for r in read_rows(csv_path, OPS) if r["workload"] == label]
    have = {(r["kind"], r["index"]) for r in rows}
    stored = {r["ops"] for r in rows}
    if len(stored) == 1 and len(have) == len(_SUMMARY) + len(benches) + next(iter(stored)):
        return _from_rows(label, device, host, rows, csv_path)  # everything is there: nothing to run
    say = progress or (lambda _text: None)
    with pinned_threads(threads):
        torch.set_flush_denormal(device == "cpu")
        try:
            clock = clock_for(device)
            run = _Run(workload, device)
            records = _record(run, clock)
            n = len(records)
            if stored and stored != {n}:
                raise InputError.one(
                    display_path(csv_path), label, f"measurements of the {n} ops this step runs now",
                    f"rows for {sorted(stored)[0]} ops", "the model or torch changed: delete its rows",
                )  # fmt: skip
            say(f"{label}: {n} ops, {reps} reps on {device} ({threads} thread(s))")
            with RowWriter(csv_path, OPS) as writer:
                for i, (kind, dtype, shape) in enumerate(benches):
                    if ("bench", i) not in have:
                        name, times = time_bench(kind, dtype, shape, device, max(reps, MIN_REPS))
                        writer.append(_row(label, "bench", i, n, max(reps, MIN_REPS), times, "", target=name))
                if ("floor", -1) not in have:
                    writer.append(_row(label, "floor", -1, n, reps, _floor(clock, device, reps), ""))
                missing = [i for i in range(n) if ("op", i) not in have]
                plain, timed = ("step", -1) not in have, bool(missing) or ("ops", -1) not in have
                if plain or timed:
                    steps, step_error, times, errors, sums = _time_steps(
                        run, records, clock, reps, warmup, hook, plain=plain, ops=timed
                    )
                    if plain:
                        writer.append(_row(label, "step", -1, n, reps, steps, step_error))
                        say(
                            f"{label}: step "
                            + (f"failed: {step_error}" if step_error else f"min {min(steps):.6g} s")
                        )
                    for i in missing:
                        rec, error = records[i]
                        writer.append(_row(label, "op", i, n, reps, times[i], error or errors[i], rec))
                    if timed and ("ops", -1) not in have:
                        writer.append(_row(label, "ops", -1, n, reps, sums, ""))
        finally:
            torch.set_flush_denormal(False)  # torch's default
    rows = [r for r in read_rows(csv_path, OPS) if r["workload"] == label]  # as written (6 digits)
    return _from_rows(label, device, host, rows, csv_path)
