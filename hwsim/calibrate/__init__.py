"""Measure on real hardware (the CPU always, CUDA GPUs when present) and fit calibrations from it.

    device       the host's facts (CPU, threads, torch, GPU, driver) and `--device cpu|cuda`
    microbench   GEMM, memory-bound ops, causal flash attention and launch overhead, timed per op
    collectives  all-reduce, all-gather, reduce-scatter, all-to-all with real processes (gloo, NCCL)
    results      the CSV files rows are flushed to as measured, and resume after an interruption
    fit          rows -> a calibration (hwsim.calibration/1) and a measured device (hwsim.device/1)
`hwsim calibrate` (hwsim.cli.calibrate) runs them in that order. Nothing here imports torch at
import time.
"""

from hwsim.calibrate.collectives import run_collectives
from hwsim.calibrate.device import HostInfo, describe_host, host_stem, resolve_device
from hwsim.calibrate.fit import fit_rows, write_fit
from hwsim.calibrate.microbench import Bench, default_sweep, run_sweep
from hwsim.calibrate.results import check_host, read_rows

__all__ = [
    "Bench",
    "HostInfo",
    "check_host",
    "default_sweep",
    "describe_host",
    "fit_rows",
    "host_stem",
    "read_rows",
    "resolve_device",
    "run_collectives",
    "run_sweep",
    "write_fit",
]
