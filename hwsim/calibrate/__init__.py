"""Measure on real hardware (the CPU always, CUDA GPUs when present) and fit calibrations from it.

    device       the host's facts (CPU, threads, torch, GPU, driver) and `--device cpu|cuda`
    microbench   GEMM, memory-bound ops, causal flash attention and launch overhead, timed per op
    collectives  all-reduce, all-gather, reduce-scatter, all-to-all with real processes (gloo, NCCL)
    results      the CSV files rows are flushed to as measured, and resume after an interruption
    fit          rows -> a calibration (hwsim.calibration/1) and a measured device (hwsim.device/1)
    measure      a workload's real model, timed per op and end to end (rows flushed, resumable)
    validate     measured ops matched to graph ops; per-class and end-to-end errors of an estimate
`hwsim calibrate` (hwsim.cli.calibrate) runs the first five in that order; `hwsim validate`
(hwsim.cli.validate) the last two. Nothing here imports torch at import time.
"""

from hwsim.calibrate.collectives import run_collectives
from hwsim.calibrate.device import HostInfo, describe_host, host_stem, resolve_device
from hwsim.calibrate.fit import fit_rows
from hwsim.calibrate.fit_files import write_fit
from hwsim.calibrate.kernels import Bench
from hwsim.calibrate.measure import MeasuredOp, Measurement, measure, workload_label
from hwsim.calibrate.microbench import default_sweep, run_sweep
from hwsim.calibrate.results import check_host, read_rows
from hwsim.calibrate.validate import Validation, compare, match_ops, run_validation

__all__ = [
    "Bench",
    "HostInfo",
    "MeasuredOp",
    "Measurement",
    "Validation",
    "check_host",
    "compare",
    "default_sweep",
    "describe_host",
    "fit_rows",
    "host_stem",
    "match_ops",
    "measure",
    "read_rows",
    "resolve_device",
    "run_collectives",
    "run_sweep",
    "run_validation",
    "workload_label",
    "write_fit",
]
