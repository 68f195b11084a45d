"""Measure on real hardware (the CPU always, CUDA GPUs when present) and fit calibrations from it.

    device       the host's facts (CPU, threads, torch, GPU, driver), `--device cpu|cuda`, pinning
    kernels      the benchmarked kernels: how each kind is built, its FLOP and bytes per call
    eager        the host cost per op of a model run eagerly (a chain of small modules)
    microbench   the sweep: each kernel timed as a model runs it, in rounds, rows flushed
    collectives  all-reduce, all-gather, reduce-scatter, all-to-all with real processes (gloo, NCCL)
    results      the CSV files rows are flushed to as measured, and resume after an interruption
    fit          rows -> roofs and efficiencies (fit_host: the host_cold and residency curves);
                 fit_files writes them as a calibration (hwsim.calibration/1) and a measured
                 device (hwsim.device/1)
    unresolved   whether a difference of two measurements rises above their spread; the rows
                 whose difference does not are recorded `unresolved` and never fitted
    clocks       CPU and CUDA clocks for one call
    measure      a workload's real model, timed per op and end to end (rows flushed, resumable);
                 op_timer is its per-op dispatch-mode timer
    rounds       several measurements of one workload merged (the least over rounds)
    host_files   which device file and calibration an estimate of this host uses; drift; waiting
                 for the host to run at its calibrated speed
    validate     measured ops matched to graph ops; per-class and end-to-end errors of an estimate
`hwsim calibrate` (hwsim.cli.calibrate) runs device through fit_files; `hwsim validate`
(hwsim.cli.validate) the rest. Nothing here imports torch at import time.
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
