"""Collective benchmarks with real processes: all-reduce, all-gather, reduce-scatter, all-to-all over sizes.

`run_collectives` spawns `world_size` processes (torch.multiprocessing, spawn start method) that join a
torch.distributed group over TCP on 127.0.0.1 with a free port: gloo on the CPU, NCCL with one GPU per
rank under CUDA. Each collective and message size is run `warmup` times, then timed `reps` times;
before each timed repetition a barrier lines the ranks up, and a repetition's time is the slowest
rank's (all-reduce MAX of the per-rank times), since a collective is over when its last rank is.
Rank 0 appends one flushed row per size to collectives.csv; sizes already there are skipped.

Sizes and bandwidths follow nccl-tests (github.com/NVIDIA/nccl-tests, doc/PERFORMANCE.md), with n
ranks and S the message size in bytes:
    all_reduce      every rank holds S bytes, reduced in place           busbw = algbw x 2(n-1)/n
    all_gather      every rank sends S/n and receives S                  busbw = algbw x (n-1)/n
    reduce_scatter  every rank sends S and receives its reduced S/n      busbw = algbw x (n-1)/n
    all_to_all      every rank sends S (S/n to each rank), receives S    busbw = algbw x (n-1)/n
    algbw = S / time. busbw is the rate each rank's link must carry with an optimal (ring)
    algorithm, so it is comparable across collectives and with the link's bandwidth. The time of the
    smallest message is the collective's latency.
Bandwidths use the minimum time (the capability); the median is kept beside it for the noise.
"""

from __future__ import annotations

import socket
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from hwsim.calibrate.results import COLLECTIVE, RowWriter, read_rows

__all__ = ["BUS_FACTOR", "COLLECTIVES", "Collective", "default_sizes", "free_port", "run_collectives"]

COLLECTIVES: tuple[str, ...] = ("all_reduce", "all_gather", "reduce_scatter", "all_to_all")
MIN_REPS = 10
# A rank that waits this long for the others is stuck (a peer died): fail rather than hang a sweep.
# The largest default message (1 GiB on GPUs, 64 MiB over gloo) takes well under a second.
TIMEOUT_S = 300


def BUS_FACTOR(collective: str, n: int) -> float:  # noqa: N802 - reads as the table it implements
    """busbw / algbw for `collective` over `n` ranks (nccl-tests doc/PERFORMANCE.md)."""
    if collective == "all_reduce":
        return 2.0 * (n - 1) / n
    if collective in ("all_gather", "reduce_scatter", "all_to_all"):
        return (n - 1) / n
    raise ValueError(f"unknown collective {collective!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Collective:
    """One measurement: a collective, a message size in bytes (nccl-tests convention) and a dtype."""

    collective: str
    bytes: int
    dtype: str = "fp32"


def default_sizes(device: str, *, quick: bool = False) -> list[int]:
    """Message sizes: 4 KiB to 64 MiB by 4x on the CPU (gloo over loopback), 8 B to 1 GiB on GPUs."""
    if quick:
        return [4096, 65536, 1 << 20]
    if device == "cpu":
        return [4**i * 1024 for i in range(1, 10)]
    return [8 * 4**i for i in range(0, 15)] + [1 << 30]


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ops(collective: str, nbytes: int, n: int, dtype: Any, device: str) -> Callable[[], Any]:
    import torch
    import torch.distributed as dist

    elt = torch.empty((), dtype=dtype).element_size()
    count = max(n, nbytes // elt // n * n)  # divisible by n so every rank gets an equal share
    make = lambda c: torch.ones(c, dtype=dtype, device=device)  # noqa: E731
    gather = getattr(dist, "all_gather_single", None) or dist.all_gather_into_tensor
    scatter = getattr(dist, "reduce_scatter_single", None) or dist.reduce_scatter_tensor
    if collective == "all_reduce":
        x = make(count)
        return lambda: dist.all_reduce(x)
    if collective == "all_gather":
        x, out = make(count // n), make(count)
        return lambda: gather(out, x)
    if collective == "reduce_scatter":
        x, out = make(count), make(count // n)
        return lambda: scatter(out, x)
    if collective == "all_to_all":
        x, out = make(count), make(count)
        return lambda: dist.all_to_all_single(out, x)
    raise ValueError(f"unknown collective {collective!r}")


def _worker(
    rank: int,
    world: int,
    port: int,
    backend: str,
    device: str,
    threads: int,
    todo: list[Collective],
    csv_path: str,
    reps: int,
    warmup: int,
) -> None:
    import torch
    import torch.distributed as dist

    from hwsim.calibrate.kernels import torch_dtype
    from hwsim.calibrate.microbench import error_text

    torch.set_num_threads(threads)
    dev = "cpu"
    if device == "cuda":
        torch.cuda.set_device(rank)
        dev = f"cuda:{rank}"
    dist.init_process_group(
        backend,
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world,
        timeout=timedelta(seconds=TIMEOUT_S),
    )
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    writer = RowWriter(Path(csv_path), COLLECTIVE) if rank == 0 else None

    def agree(flag: bool) -> bool:  # every rank learns whether every rank succeeded, before going on
        t = torch.tensor([int(flag)], dtype=torch.int32, device=dev)  # NCCL has no bool reduction
        dist.all_reduce(t, op=dist.ReduceOp.MIN)
        return t.item() == 1

    try:
        for item in todo:
            row: dict[str, Any] = {
                "collective": item.collective,
                "backend": backend,
                "world_size": world,
                "dtype": item.dtype,
                "bytes": item.bytes,
                "reps": reps,
                "status": "failed",
            }
            times = torch.zeros(reps, dtype=torch.float64, device=dev)
            fn = None
            try:  # allocate first: an out-of-memory on one rank must not leave the other inside a collective
                fn = _ops(item.collective, item.bytes, world, torch_dtype(item.dtype), dev)
            except Exception as exc:  # noqa: BLE001 - recorded, and the ranks move on together
                row["error"] = error_text(exc)
            ok = agree(fn is not None)
            if ok:
                try:
                    for _ in range(warmup):
                        fn()
                    for i in range(reps):
                        dist.barrier()
                        sync()
                        t0 = time.perf_counter()
                        fn()
                        sync()
                        times[i] = time.perf_counter() - t0
                except Exception as exc:  # noqa: BLE001
                    row["error"] = error_text(exc)
                ok = agree(not row.get("error"))
            dist.all_reduce(times, op=dist.ReduceOp.MAX)
            del fn
            if writer is None:
                continue
            if ok:
                values = times.tolist()
                algbw = item.bytes / min(values)
                row.update(
                    status="ok",
                    min_s=min(values),
                    median_s=statistics.median(values),
                    algbw=algbw,
                    busbw=algbw * BUS_FACTOR(item.collective, world),
                )
            elif not row.get("error"):
                row["error"] = "failed on another rank"
            writer.append(row)
    finally:
        if writer is not None:
            writer.close()
        dist.destroy_process_group()


def run_collectives(
    csv_path: Path,
    *,
    device: str = "cpu",
    world_size: int = 2,
    threads: int = 1,
    sizes: Iterable[int] | None = None,
    collectives: Iterable[str] = COLLECTIVES,
    dtype: str = "fp32",
    reps: int = MIN_REPS,
    warmup: int = 2,
) -> list[dict[str, Any]]:
    """Measure the collectives not already in `csv_path` with `world_size` real processes; return all rows.

    Raises ValueError when CUDA has fewer GPUs than ranks (NCCL needs one GPU per rank); the caller
    decides whether that skips the collectives.
    """
    import torch
    import torch.multiprocessing as mp

    if reps < MIN_REPS:
        raise ValueError(f"reps must be >= {MIN_REPS}, got {reps}")
    backend = "nccl" if device == "cuda" else "gloo"
    if device == "cuda" and torch.cuda.device_count() < world_size:
        raise ValueError(
            f"NCCL needs one GPU per rank: {world_size} ranks, {torch.cuda.device_count()} GPU(s)"
        )
    sizes = list(default_sizes(device) if sizes is None else sizes)
    done = {COLLECTIVE.row_key(r) for r in read_rows(csv_path, COLLECTIVE)}
    todo = [Collective(collective=c, bytes=s, dtype=dtype) for c in collectives for s in sizes]
    todo = [
        t
        for t in todo
        if COLLECTIVE.row_key(
            {
                "collective": t.collective,
                "backend": backend,
                "world_size": world_size,
                "dtype": t.dtype,
                "bytes": t.bytes,
            }
        )
        not in done
    ]
    if todo:
        RowWriter(csv_path, COLLECTIVE).close()  # the header, before any rank writes
        mp.start_processes(
            _worker,
            args=(world_size, free_port(), backend, device, threads, todo, str(csv_path), reps, warmup),
            nprocs=world_size,
            join=True,
            start_method="spawn",
        )
    return read_rows(csv_path, COLLECTIVE)
