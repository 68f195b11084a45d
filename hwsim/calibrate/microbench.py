"""Microbenchmarks on the CPU or a CUDA GPU: GEMM, memory-bound ops, causal attention and dispatch overhead.

Each benchmark is a kernel kind, a dtype and a shape (hwsim.calibrate.kernels: how each kind is built
and its FLOP and bytes per call). It is timed the way the roofline
needs it: the achieved rate of one op as eager PyTorch runs it inside a model step: outputs
allocated per call (except a GEMM's: see `_gemm`), and the operands of a streaming kernel cycled
through enough copies (`_rotating`) that they are not sitting in the innermost cache, as a model's
activations and weights are not when such an op reads them. (The first version timed hot operands
into preallocated outputs; on one Xeon core it estimated a model's elementwise ops 2-3x too fast.)

Timing (see ../shared/notes/tracing-facts.md for why): torch threads are pinned (1 by default; with
2 threads on a busy machine OpenMP spin-waiting made a step 28x slower); `warmup` calls first (lazy
initialisation, allocator, caches); then `calls` back-to-back calls per repetition, chosen so one
repetition lasts at least `target_s` (a 1 us op is then not lost in timer granularity), and `reps`
>= 10 repetitions. Min and median per-call time are both kept: the fit takes the median (a step is
made of typical op times; hwsim.calibrate.fit), min - median shows the noise. On CUDA the
repetition is timed with CUDA events and a synchronisation, so the figure is GPU time for queued
kernels, including the launch gaps eager execution leaves between them.

A benchmark that raises (out of memory, an unsupported dtype, a missing kernel) is written as a
`failed` row with the error text and the sweep goes on. A row that is a difference of two times
(host_cold) and does not rise above its spread is written as an `unresolved` row, its times empty and
its spread and both times in the error column (hwsim.calibrate.unresolved); it counts as measured,
like an ok row, so a later round measures it again. Rows are flushed as measured; a rerun on the
same file measures only what is missing (hwsim.calibrate.results).
"""

from __future__ import annotations

import itertools
import math
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwsim.calibrate.device import llc_bytes, pinned_threads
from hwsim.calibrate.eager import count_ops
from hwsim.calibrate.host_cold import HOST_COLD_KINDS
from hwsim.calibrate.kernels import (
    ACTIVATION_KINDS,
    ELEMENT_BYTES,
    HOST_KINDS,
    KERNELS,
    MEMORY_KINDS,
    NORM_OP_KINDS,
    OP_ENTRY_KINDS,
    SELF_CYCLING_KINDS,
    Bench,
    Kernel,
    torch_dtype,
)
from hwsim.calibrate.results import MICRO, RowWriter, read_rows
from hwsim.calibrate.unresolved import UNRESOLVED, difference, measured_note
from hwsim.cost.calibration import STREAMING_INTENSITY  # FLOP per byte below which a kernel streams

__all__ = ["SweepResult", "bench_call", "default_sweep", "error_text", "residency_mib", "rotate_bytes",
           "run_sweep", "time_calls"]  # fmt: skip

ROTATE_MIN_BYTES = {"cpu": 32 * 2**20, "cuda": 256 * 2**20}  # operand copies a streaming row cycles through
ROTATE_CACHE_MULTIPLE = 1.5  # ... at least this many times the last-level cache (see rotate_bytes)
ROTATE_UNKNOWN_LLC = 512 * 2**20  # a CPU whose sysfs lists no cache
MAX_COPIES = 256
RESIDENCY_MIB = (8, 16, 32, 64, 128, 256)  # bytes a residency row cycles, below the one past the LLC
RESIDENCY_ROWS = (1, 2, 4, 8, 16)  # GEMM rows of the residency rows: the streaming GEMMs (m/2 FLOP/B)
HOST_COLD_WIDTHS = (32, 64, 128, 256, 384, 512, 768, 1024, 1536)  # host_cold chains: 27 kB to 38 MB a block
HOST_COLD_ROWS = 4  # decode's few tokens
HOST_COLD_EXTRA = (8, 16, 32, 48)  # distinct extra ops per block on the hot chain
OVERHEAD_ROUNDS = 4  # times the launch and eager rows are measured in a full sweep (their min is used)
MIN_REPS = 10  # the tracing-facts rule: at least 10 repetitions, min as capability, median beside it
MAX_CALLS = 10_000  # cap on calls per repetition (a launch-sized op reaches the target well before it)
ERROR_CHARS = 300  # keep failure text short enough for a CSV cell


def default_sweep(device: str, *, quick: bool = False) -> list[Bench]:
    """The benchmarks `hwsim calibrate` runs: sizes from launch-bound to roof-bound on each device.

    CPU sizes reach a 4096^3 GEMM and 256 MiB fp32 tensors (past any cache a shared host gives one
    core); CUDA sizes reach 16384^3 and 4 GiB, well beyond an H200's 50 MiB L2. Skinny GEMMs (m of 1
    to 64 rows: decode) and one-query attention over a KV cache measure the memory-bound side of the
    compute classes; attention runs forward and backward, from tens of tokens (head size 16 to 128) to
    thousands. The CPU sweep also measures what the host pays for ops inside a step: decode GEMMs
    cycling their weights (residency) and decoder-MLP chains whose GEMMs stream their weights
    (host_cold). `quick` is a small sweep for tests and CI (a few seconds on one CPU core).
    """
    eager = [("eager_train", (16, 8)), ("eager_infer", (16, 8))]  # (width, tokens): hwsim.calibrate.eager
    if device == "cpu":
        if quick:
            gemm = {"fp32": [(n, n, n) for n in (64, 128, 256)] + [(8, 256, 256)],
                    "bf16": [(n, n, n) for n in (64, 128)]}  # fmt: skip
            mem_dtypes, rows, cols = ("fp32",), (1, 16, 256), 1024
            act_rows = (16, 256)
            attn = {"fp32": [(1, 2, s, 64) for s in (64, 128)]}
            attn_bwd = {"fp32": [(1, 2, 64, 64)]}
            decode = {"fp32": [(1, 2, 64, 64)]}
        else:
            squares = [(n, n, n) for n in (32, 64, 128, 256, 512, 1024, 2048, 4096)]
            llm = [(2048, 1024, 4096), (4096, 4096, 128)]  # linear layers
            # m = decode batch, densely: the BLAS picks kernels by m (on one Xeon core 8 x 1024 x 1024
            # took 740 us, as long as 32 rows, 1 row 302 us), so few points interpolate badly
            skinny = [(m, n, n) for n in (1024, 4096) for m in (1, 2, 4, 8, 16, 32, 64, 128, 512)]
            gemm = {"fp32": squares + llm + skinny, "bf16": squares + llm + skinny}
            mem_dtypes, rows, cols = ("fp32", "bf16"), (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536), 1024
            act_rows = (4, 16, 64, 256, 1024, 4096, 16384)  # 16 MiB at most: GELU's tanh form is slow here
            long = [(1, 4, s, 128) for s in (128, 256, 512, 1024, 2048, 4096)]
            # head sizes 16 to 128 in powers of two, each over the contexts of the zoo's small models:
            # the attention_head factors compare head sizes at equal (per-head) ideal time
            short = [(2, 4, s, d) for d in (16, 32, 64) for s in (32, 64, 128, 256, 512)]
            short += [(2, 4, s, 128) for s in (32, 64)]
            attn = {"fp32": long + short, "bf16": long}
            attn_bwd = {"fp32": [(1, 4, s, 128) for s in (128, 512, 2048)] + short, "bf16": long[:3]}
            decode = {dt: [(8, 8, kv, 64) for kv in (32, 128, 512, 2048)] for dt in ("fp32", "bf16")}
            decode["fp32"] += [(2, 4, kv, 16) for kv in (32, 128)]  # head size 16, as `short` has
    else:
        if quick:
            gemm = {dt: [(n, n, n) for n in (256, 1024, 4096)] for dt in ("bf16", "fp32")}
            mem_dtypes, rows, cols = ("bf16",), (1, 64, 4096), 4096
            act_rows = (64, 4096)
            attn = {"bf16": [(1, 8, s, 128) for s in (512, 2048)]}
            attn_bwd = {"bf16": [(1, 8, 512, 128)]}
            decode = {"bf16": [(8, 8, 512, 128)]}
        else:
            squares = [(n, n, n) for n in (256, 512, 1024, 2048, 4096, 8192, 16384)]
            llm = [(8192, 8192, 1024), (8192, 28672, 8192)]
            skinny = [(m, 8192, 8192) for m in (1, 4, 16, 64, 128, 512)]
            gemm = {dt: squares + llm + skinny for dt in ("bf16", "fp16", "tf32", "fp32")}
            mem_dtypes, rows, cols = ("bf16", "fp32"), tuple(4**i for i in range(10)), 4096
            act_rows = tuple(4**i for i in range(1, 10, 2))  # 5 sizes: the sweep stays within its time
            attn = {
                dt: [(4, 32, s, 128) for s in (256, 512, 1024, 2048, 4096, 8192, 16384)]
                for dt in ("bf16", "fp16")
            }
            attn_bwd = {"bf16": [(4, 32, s, 128) for s in (256, 1024, 4096, 16384)]}
            decode = {"bf16": [(8, 32, kv, 128) for kv in (512, 2048, 8192, 32768)]}
    # The host-side rows (launch, eager) are taken OVERHEAD_ROUNDS times, spread through the sweep,
    # each time at a slightly different (equally tiny) size so that each is its own row: the fit takes
    # their min. A shared host's Python speed swings by 2x within seconds (a module-chain step took
    # 10.8 us and 19.5 us per op a few seconds apart), far more than its GEMM rate does.
    dtype = "fp32" if device == "cpu" else "bf16"
    rounds = 1 if quick else OVERHEAD_ROUNDS
    overhead = [
        [Bench(kind="launch", dtype="fp32", shape=(1 + r,))]
        + [Bench(kind=kind, dtype=dtype, shape=(width, tokens + r)) for kind, (width, tokens) in eager]
        for r in range(rounds)
    ]
    benches = list(overhead[0])
    benches += [Bench(kind="gemm", dtype=dt, shape=s) for dt, shapes in gemm.items() for s in shapes]
    benches += overhead[1] if rounds > 1 else []
    benches += [
        Bench(kind=kind, dtype=dt, shape=(r, cols))
        for kind in MEMORY_KINDS
        for dt in mem_dtypes
        for r in rows
    ]
    benches += [
        Bench(kind=kind, dtype=dt, shape=(r, cols))
        for kind in ACTIVATION_KINDS
        for dt in mem_dtypes
        for r in act_rows
    ]
    # the zoo's RMS norm op down to one short row: its small calls are its per-call cost (a decode
    # step's norms are a few rows of a few hundred)
    norm = [(1, 64), *((r, cols) for r in (1, *act_rows))] if not quick else [(1, 64), (16, cols)]
    benches += [Bench(kind=k, dtype=dt, shape=s) for k in NORM_OP_KINDS for dt in mem_dtypes for s in norm]
    benches += overhead[2] if rounds > 2 else []
    if quick:  # one copy past the small sizes, so that even a quick fit has a less cache-bound bandwidth roof
        benches.append(
            Bench(kind="copy", dtype=mem_dtypes[0], shape=(16384, 1024) if device == "cpu" else (65536, cols))
        )
    for kind, table in (("attention", attn), ("attention_bwd", attn_bwd), ("attention_decode", decode)):
        benches += [Bench(kind=kind, dtype=dt, shape=s) for dt, shapes in table.items() for s in shapes]
    if device == "cpu":  # residency curves: decode GEMMs cycling 8 MiB ... past the LLC (fit_host)
        past_llc = residency_mib(rotate_bytes(device) // 2**20)  # quick: its largest size stands in for it
        width, ms, sizes = (256, (8,), (1, 64)) if quick else (1024, RESIDENCY_ROWS, past_llc)
        benches += [
            Bench(kind="residency", dtype="fp32", shape=(m, width, width, mib)) for m in ms for mib in sizes
        ]
        # the in-step host cost of small ops (hwsim.calibrate.host_cold): a hot chain to past the L2
        # and a hot chain with more distinct ops per block (their host state evicts it too)
        shapes = [(w, HOST_COLD_ROWS, 0) for w in ((32, 256) if quick else HOST_COLD_WIDTHS)]
        shapes += [(32, HOST_COLD_ROWS, extra) for extra in ((16,) if quick else HOST_COLD_EXTRA)]
        benches += [Bench(kind=kind, dtype="fp32", shape=s) for kind in HOST_COLD_KINDS for s in shapes]
    return benches + [b for batch in overhead[3:] for b in batch]


def residency_mib(past_llc_mib: int) -> tuple[int, ...]:
    """MiB the full sweep's residency rows cycle: RESIDENCY_MIB and the size past the LLC (rotate_bytes),
    that one once (a host with a small LLC rotates 32 MiB, which RESIDENCY_MIB has: one row per key)."""
    return RESIDENCY_MIB + tuple(m for m in (past_llc_mib,) if m not in RESIDENCY_MIB)


def time_calls(
    fn: Callable[[], Any],
    *,
    device: str = "cpu",
    reps: int = MIN_REPS,
    warmup: int = 2,
    target_s: float = 1e-3,
) -> tuple[float, float, int]:
    """(min, median) seconds per call of `fn` over `reps` repetitions, and the calls per repetition."""
    import torch

    if device == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

        def once(calls: int) -> float:
            torch.cuda.synchronize()
            start.record()
            for _ in range(calls):
                fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) * 1e-3  # elapsed_time is in milliseconds
    else:

        def once(calls: int) -> float:
            t0 = time.perf_counter_ns()
            for _ in range(calls):
                fn()
            return (time.perf_counter_ns() - t0) * 1e-9

    for _ in range(warmup):
        fn()
    probe = max(once(1), 1e-9)
    calls = max(1, min(MAX_CALLS, int(target_s / probe) + 1)) if probe < target_s else 1
    times = [once(calls) / calls for _ in range(max(reps, MIN_REPS))]
    return min(times), statistics.median(times), calls


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepResult:
    """What one run did: rows measured now, rows found already measured (resume), rows that failed now."""

    measured: int
    skipped: int
    failed: int
    rows: list[dict[str, Any]] = field(default_factory=list)  # every row of the file after the run
    unresolved: int = 0  # rows measured now whose difference is below its spread (hwsim.calibrate.unresolved)


def error_text(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0] if lines else ''}".strip().rstrip(":")
    return text[:ERROR_CHARS]


def bench_call(bench: Bench, device: str, kernel: Kernel | None = None) -> Callable[[], Any]:
    """The call a sweep times for `bench` (operand copies included): also what validation re-times
    to measure the host's drift, so that both time the same thing."""
    kernel = kernel or KERNELS[bench.kind]
    flop, nbytes = kernel.counts(bench.shape, ELEMENT_BYTES.get(bench.dtype, 0))
    return _rotating(kernel, bench, device, flop, nbytes)


def rotate_bytes(device: str) -> int:
    """Bytes of operand copies a streaming microbenchmark cycles through: ROTATE_CACHE_MULTIPLE x the
    last-level cache (a cyclic walk over more than the cache misses it on every call), at least
    ROTATE_MIN_BYTES. Why the whole LLC and not the core's L2: on this project's Xeon VM (2 MiB L2 per
    core, 300 MiB L3 shared by the host) a fused AdamW step on a 1024 x 384 fp32 parameter took 345 us
    cycling 32 MiB of copies, 549 us cycling 512 MiB, and 483-528 us inside a training step; a
    192 x 1024 add took 91 us, 145 us and 141 us (min per call; the step's figures are `hwsim
    validate` rows of llama-tiny-train at hidden 384). A model step's working set (weights,
    gradients, optimizer state, activations) pushes an op's operands out of the L3 before they are
    read, and on a shared host other tenants do too."""
    if device == "cuda":
        import torch

        l2 = int(getattr(torch.cuda.get_device_properties(0), "L2_cache_size", 0) or 0)
        return max(ROTATE_MIN_BYTES["cuda"], int(ROTATE_CACHE_MULTIPLE * l2))
    llc = llc_bytes()
    return max(ROTATE_MIN_BYTES["cpu"], int(ROTATE_CACHE_MULTIPLE * llc) if llc else ROTATE_UNKNOWN_LLC)


def _rotating(kernel: Kernel, bench: Bench, device: str, flop: float, nbytes: float) -> Callable[[], Any]:
    """The call to time. A kernel that streams its operands (under STREAMING_INTENSITY FLOP per byte:
    the memory-bound kinds, GEMV-like GEMMs, one-query attention over a KV cache) cycles through
    enough copies of them (rotate_bytes: past the last-level cache) that a call finds its operands
    out of the caches, as a model step does: it reads activations written many ops ago and weights
    touched once per step. A kernel that reuses its operands (a square
    GEMM, causal attention) is timed on one set, warm, as in a model where it reads the activations
    the previous op just wrote (a 256^3 fp32 GEMM ran 14% slower on cold operands than inside a
    model step on one Xeon core). The host rows are never copied."""
    build = lambda: kernel.build(bench.shape, torch_dtype(bench.dtype), device)  # noqa: E731
    if (
        bench.kind in HOST_KINDS + SELF_CYCLING_KINDS
        or not nbytes > 0
        or flop / nbytes >= STREAMING_INTENSITY
    ):
        return build()
    copies = max(1, min(MAX_COPIES, math.ceil(rotate_bytes(device) / nbytes)))
    calls = [build() for _ in range(copies)]
    if copies == 1:
        return calls[0]
    turn = itertools.cycle(calls)
    return lambda: next(turn)()


def _measure(
    bench: Bench, kernel: Kernel, *, device: str, reps: int, warmup: int, target_s: float
) -> dict[str, Any]:
    import torch

    row: dict[str, Any] = {"kind": bench.kind, "op_class": kernel.op_class, "dtype": bench.dtype,
                           "shape": bench.shape_text, "flop": float("nan"), "bytes": float("nan"),
                           "min_s": float("nan"), "median_s": float("nan"), "reps": reps, "calls": 0,
                           "status": "failed", "error": ""}  # fmt: skip
    fn = None
    tf32 = torch.backends.cuda.matmul.allow_tf32  # "tf32" rows switch TF32 on for their GEMM only
    try:
        row["flop"], row["bytes"] = kernel.counts(bench.shape, ELEMENT_BYTES.get(bench.dtype, 0))
        if device == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = bench.dtype == "tf32"
        fn = bench_call(bench, device, kernel)
        if bench.kind in MEMORY_KINDS or bench.kind in OP_ENTRY_KINDS:
            with torch.no_grad():
                ops = count_ops(fn)
            if ops > 1:  # e.g. F.rms_norm on a CPU: not one kernel of its class, so not fitted as one
                row["op_class"] = f"{kernel.op_class} as {ops} ATen ops"
        measure = getattr(fn, "measure", None)  # a self-timed row (hwsim.calibrate.host_cold)
        with torch.no_grad():
            if measure is not None:
                min_s, median_s, row["calls"] = measure(reps, warmup, target_s)
            else:
                min_s, median_s, row["calls"] = time_calls(
                    fn, device=device, reps=reps, warmup=warmup, target_s=target_s
                )
        per = getattr(fn, "ops_per_call", 1)  # an eager step reports seconds per op (hwsim.calibrate.eager)
        row["min_s"], row["median_s"] = min_s / per, median_s / per
        row["status"] = "ok"
        parts = getattr(fn, "parts", None)  # a row of paired (in-step, hot) differences: host_cold
        gap = difference(row)
        if parts is not None and not gap.resolved:  # never a negative time: its spread and both times
            row.update(status=UNRESOLVED, min_s=math.nan, median_s=math.nan,
                       error=measured_note(gap, *parts, reps))  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - any failure of one op is recorded and the sweep goes on
        row["error"] = error_text(exc)
    finally:
        del fn
        if device == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = tf32
            if row["status"] == "failed":
                torch.cuda.empty_cache()
    return row


def run_sweep(
    benches: Iterable[Bench],
    csv_path: Path,
    *,
    device: str = "cpu",
    threads: int = 1,
    reps: int = MIN_REPS,
    warmup: int = 2,
    target_s: float = 1e-3,
    kernels: dict[str, Kernel] | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    rounds: int = 1,
) -> SweepResult:
    """Measure every bench `rounds` times (a whole pass per round), appending one flushed row per
    measurement; resume-safe: a key with `rounds` rows in `csv_path` (or a failed one) is done.

    Rounds are what makes a sweep robust on a shared host: the speed swings last seconds, longer
    than one bench's repetitions, so a bench measured in a slow spell is only rescued by measuring
    it again minutes later (the fit takes each key's fastest round: results.fastest_per_key).

    Torch's intra-op threads are pinned to `threads` for the run and restored afterwards. A
    KeyboardInterrupt stops the sweep with every finished row on disk.
    """

    kernels = KERNELS if kernels is None else kernels
    benches = list(dict.fromkeys(benches))  # a bench listed twice is measured once per round
    unknown = [b.kind for b in benches if b.kind not in kernels]
    if unknown:
        raise ValueError(f"unknown benchmark kind {unknown[0]!r}; known: {', '.join(kernels)}")
    if reps < MIN_REPS:
        raise ValueError(f"reps must be >= {MIN_REPS}, got {reps}")
    existing = read_rows(csv_path, MICRO)  # validates the file (and drops a torn last line) first
    count: dict[tuple[str, ...], int] = {}
    for r in existing:
        key = MICRO.row_key(r)
        count[key] = rounds if r["status"] == "failed" else count.get(key, 0) + 1  # a failure is final
    skipped = sum(min(count.get(b.key, 0), rounds) for b in benches)
    measured = failed = unresolved = 0
    with pinned_threads(threads), RowWriter(csv_path, MICRO) as writer:
        for round_ in range(rounds):
            for bench in benches:
                if count.get(bench.key, 0) > round_:
                    continue
                row = _measure(
                    bench, kernels[bench.kind], device=device, reps=reps, warmup=warmup, target_s=target_s
                )
                writer.append(row)
                count[bench.key] = rounds if row["status"] == "failed" else count.get(bench.key, 0) + 1
                measured += 1
                failed += row["status"] == "failed"
                unresolved += row["status"] == UNRESOLVED
                if progress is not None:
                    progress(row)
    return SweepResult(measured=measured, skipped=skipped, failed=failed, rows=read_rows(csv_path, MICRO),
                       unresolved=unresolved)  # fmt: skip
