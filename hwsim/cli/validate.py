"""`hwsim validate`: run a workload's real model on this host, estimate the same step, and report the errors.

The estimate uses the measured device file and fitted calibration that `hwsim calibrate --device D`
wrote for this host (found by host stem: CPU model plus thread count, or GPU name), unless --system
and --calibration name others. Measurements are written to DIR/measurements/<host stem>/ops.csv as
they are taken (DIR: -o, default reports/validation) and a rerun resumes there; the report goes to
DIR/<workload>--<device file>.md, .csv and .json (hwsim.report.validation). DIR is a folder, created
if missing; a regular file or a path that cannot be written is refused before anything is measured.
A workload whose model.factory is not hwsim's own needs --trust-factory or --factory-path DIR.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hwsim.cli.workload import add_trust_flags
from hwsim.errors import UsageError

__all__ = ["register"]

MIN_REPS = 10  # the tracing-facts rule: at least 10 repetitions, min as capability, median beside it


def register(subparsers: argparse._SubParsersAction) -> None:
    val = subparsers.add_parser(
        "validate",
        help="Measure a workload's real model on this host and compare it with hwsim's estimate.",
        description=(
            "Run the workload's model for real (random weights, synthetic tokens) on the CPU or a CUDA GPU, "
            "timing every op and the whole step (min and median over the repetitions), estimate the same "
            "step for the same device, match measured ops to graph ops, and print per-op-class and "
            "end-to-end errors with the measurement noise beside them. Error = (estimate - measured) / "
            "measured with measured = the calibration's statistic (median for fitted files, min for "
            "hand-written ones) over repetitions; MAPE = mean |error| over the matched ops of a "
            "class. Writes a Markdown, CSV and JSON report."
        ),
    )
    val.add_argument(
        "workload", help="A workload: the stem of a file in workloads/ or a path to a YAML file."
    )
    val.add_argument("--device", default="cpu", help="cpu (default) or cuda.")
    val.add_argument("--system", help="Device file for the estimate (default: this host's measured one).")
    val.add_argument("--calibration", help="Calibration file or stem (default: fitted-<device file>).")
    val.add_argument("--threads", type=int, default=1, help="CPU threads torch is pinned to (default 1).")
    val.add_argument("--reps", type=int, default=MIN_REPS, help=f"Timed repetitions (>= {MIN_REPS}).")
    val.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="Override a workload value by dotted key, e.g. --set model.layers=2.")  # fmt: skip
    val.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="Complete measurements taken one after another and merged (the least over rounds; default 3 "
        "on a CPU, whose shared host's speed swings for seconds at a time, 1 on CUDA).",
    )
    val.add_argument(
        "--settle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="Before each round, wait up to SECONDS for the host to run the calibration's GEMM and copy "
        "microbenchmarks within 10%% of their calibrated times (a shared host changes speed for minutes; "
        "default 0: do not wait).",
    )
    val.add_argument("--json", action="store_true", help="Print the hwsim.validation/1 document.")
    val.add_argument("--remeasure", action="store_true",
                     help="Drop this workload's stored rows and measure anew (default: resume).")  # fmt: skip
    val.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="DIR",
        help="Report folder, created if missing (a folder, not a file; default reports/validation): the "
        "report files and measurements/ go inside it.",
    )
    add_trust_flags(val)
    val.set_defaults(func=_validate)


def _validate(args: argparse.Namespace) -> int:
    rounds = args.rounds if args.rounds is not None else (1 if args.device == "cuda" else 3)
    for flag, value, low in (
        ("--threads", args.threads, 1),
        ("--reps", args.reps, MIN_REPS),
        ("--rounds", rounds, 1),
        ("--settle", args.settle, 0),
    ):
        if value < low:
            kind = "a number" if flag == "--settle" else "a whole number"
            raise UsageError(f"<command line>: {flag}: expected {kind} >= {low}, got {value}")
    from hwsim.calibrate.validate import run_validation
    from hwsim.fileio import check_output_folder
    from hwsim.report.tables import print_tables
    from hwsim.report.validation import validation_tables, write_validation
    from hwsim.yamlio import display_path

    folder = args.output or Path("reports") / "validation"
    check_output_folder(folder)  # a folder that cannot be written fails now, not after the measurements
    try:
        validation = run_validation(
            args.workload, overrides=tuple(args.overrides), device=args.device, system=args.system,
            calibration=args.calibration, threads=args.threads, reps=args.reps, folder=folder,
            progress=lambda text: print(text, file=sys.stderr), fresh=args.remeasure, rounds=rounds,
            settle_s=args.settle,
        )  # fmt: skip
    except KeyboardInterrupt:
        print(f"hwsim validate: the rows measured so far are under {display_path(folder / 'measurements')}; "
              "rerun the same command to resume", file=sys.stderr)  # fmt: skip
        raise
    paths = write_validation(validation, folder)
    if args.json:
        print(json.dumps(validation.to_json(), indent=2))
    else:
        print_tables(validation_tables(validation))
    for path in paths:
        print(f"wrote {display_path(path)}", file=sys.stderr)
    return 0
