"""`hwsim calibrate`: measure this host (CPU or CUDA GPU), then fit a calibration and a measured device file.

Where things go (the measurements are the evidence; the YAML files are what estimates read):
    without -o   measurements  reports/measurements/<stem>/ (under the working folder)
                 calibration   <catalogue>/calibrations/fitted-<stem>.yaml
                 device        <catalogue>/devices/<stem>.yaml
    with -o FILE measurements  FILE with the suffix ".measurements/" (out/cal.yaml -> out/cal.measurements/)
                 calibration   FILE (".yaml" is added to a name that ends in neither .yaml nor .yml)
                 device        <stem>.yaml beside FILE
    with -o DIR  (an existing folder, or any path ending in "/") the same with FILE = DIR/fitted-<stem>.yaml:
                 DIR/fitted-<stem>.yaml, DIR/<stem>.yaml and DIR/fitted-<stem>.measurements/
`--measurements DIR` puts the measurements elsewhere. Every output is checked before anything is
measured (a path below a regular file, a name too long, a folder that cannot be written: one line,
exit 1), and the YAML files are written atomically (hwsim.fileio). The stem is the slugified CPU
model plus the thread count, or the GPU name (hwsim.calibrate.device.host_stem), unless --name gives
one. The measurement folder holds host.json, micro.csv and collectives.csv; rerunning the same
command resumes an interrupted run (only missing rows are measured) and refits.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Any

from hwsim.errors import InputError, UsageError, shown

__all__ = ["register"]

_STEM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def register(subparsers: argparse._SubParsersAction) -> None:
    cal = subparsers.add_parser(
        "calibrate",
        help="Measure this host (CPU or CUDA GPU) and fit a calibration and a measured device file.",
        description=(
            "Run microbenchmarks (GEMM, copy, add, softmax, layer and RMS norm, causal flash attention, "
            "a one-element op for the dispatch/launch overhead, on a CPU also the host's in-step cost of "
            "small ops between streaming GEMMs) and collectives (all-reduce, all-gather, "
            "reduce-scatter, all-to-all with real processes), writing each measurement to CSV as it is "
            "taken. Then fit a calibration (schema hwsim.calibration/1, fitted: true) and a device file "
            "with the measured peaks (schema hwsim.device/1, measured: true). Times are seconds, rates "
            "FLOP/s and B/s. An interrupted run resumes when rerun with the same outputs."
        ),
    )
    cal.add_argument("--device", default="cpu", help="cpu (default) or cuda.")
    cal.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU threads torch is pinned to (default 1: timings on a shared host are steadier).",
    )
    cal.add_argument(
        "-o",
        "--output",
        metavar="FILE|DIR",
        help="Write the calibration to FILE (.yaml added if missing), the device file beside it and the "
        "measurements in FILE.measurements/. A folder (existing, or a path ending in /) gets "
        "fitted-<stem>.yaml inside it. Default: the catalogue and reports/measurements/<stem>/.",
    )
    cal.add_argument(
        "--quick",
        action="store_true",
        help="A small sweep for tests and CI (seconds); its roofs are cache-sized, not the host's.",
    )
    cal.add_argument(
        "--name",
        metavar="STEM",
        help="Device stem for the measured device file (default: from the CPU model or GPU name).",
    )
    cal.add_argument("--measurements", type=Path, metavar="DIR", help="Folder for the measurement files.")
    cal.add_argument("--reps", type=int, default=10, help="Timed repetitions per measurement (>= 10).")
    cal.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="Passes over the whole sweep; each key's fastest pass is fitted (default: 3 for a full CPU "
        "sweep, whose shared host's speed swings for seconds at a time; 1 for --quick and CUDA).",
    )
    cal.add_argument("--no-collectives", action="store_true", help="Skip the collective benchmarks.")
    cal.add_argument("--world-size", type=int, default=2, help="Processes for the collectives (default 2).")
    cal.set_defaults(func=_calibrate)


def _check_usage(args: argparse.Namespace) -> None:
    for flag, value, low in (
        ("--threads", args.threads, 1),
        ("--reps", args.reps, 10),
        ("--world-size", args.world_size, 2),
        ("--rounds", 1 if args.rounds is None else args.rounds, 1),
    ):
        if value < low:
            raise UsageError(f"<command line>: {flag}: expected a whole number >= {low}, got {value}")
    if args.name is not None and not _STEM.match(args.name):
        raise UsageError(
            f"<command line>: --name: expected a file stem (letters, digits, _ . -), got {shown(args.name)}"
        )


def _paths(args: argparse.Namespace, stem: str) -> tuple[Path, Path, Path]:
    from hwsim.resources import catalogue_dir

    if args.output is not None:
        out = Path(args.output)
        try:
            folder_given = args.output.endswith(("/", os.sep)) or out.is_dir()
        except OSError:  # a name too long, say: _check_outputs reports it
            folder_given = False
        if folder_given:  # a folder: the default name inside it
            calibration = out / f"fitted-{stem}.yaml"
        elif out.suffix in (".yaml", ".yml"):
            calibration = out
        else:
            calibration = out.with_name(out.name + ".yaml")
        device = calibration.parent / f"{stem}.yaml"
        folder = calibration.with_suffix(".measurements")
        if device.resolve() == calibration.resolve():
            raise UsageError(
                f"<command line>: -o: expected a calibration file name other than {stem}.yaml, "
                f"got {shown(str(args.output))} (that name is the device file's; use --name)"
            )
    else:
        calibration = catalogue_dir() / "calibrations" / f"fitted-{stem}.yaml"
        device = catalogue_dir() / "devices" / f"{stem}.yaml"
        folder = Path("reports") / "measurements" / stem
    return calibration, device, args.measurements or folder


def _check_outputs(calibration: Path, device: Path, folder: Path) -> None:
    """Fail before measuring, not after, when an output cannot be written (hwsim.fileio)."""
    from hwsim.fileio import check_output_file, check_output_folder

    check_output_file(calibration)
    check_output_file(device)
    check_output_folder(folder)


def _refuse_datasheet(path: Path) -> None:
    """Never overwrite a datasheet device file with measured figures."""
    from hwsim.yamlio import display_path

    if path.exists():
        import yaml

        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            data = None
        if not (isinstance(data, dict) and data.get("measured") is True):
            raise InputError.one(
                display_path(path),
                "measured",
                "a measured device file to replace",
                "a file that is not measured: true",
                "choose another --name or -o",
            )


def _progress(row: dict[str, Any]) -> None:
    from hwsim.calibrate.kernels import HOST_KINDS
    from hwsim.units import format_quantity

    label = f"{row['kind']:10s} {row['dtype']:4s} {row['shape']:>16s}"
    if row["status"] != "ok":  # an unresolved row's note says why, in positive figures
        note = row["error"] if row["status"] == "unresolved" else f"failed: {row['error']}"
        print(f"{label}  {note}", file=sys.stderr)
        return
    if row["kind"] in HOST_KINDS:  # host time per op: a byte or FLOP rate of it means nothing
        rate = "per op"
    elif row["kind"] in ("gemm", "attention"):
        rate = format_quantity(row["flop"] / row["min_s"], "flop_rate")
    else:
        rate = format_quantity(row["bytes"] / row["min_s"], "byte_rate")
    print(
        f"{label}  {rate:>14s}  min {format_quantity(row['min_s'], 'time')}, "
        f"median {format_quantity(row['median_s'], 'time')}",
        file=sys.stderr,
    )


def _collectives(args: argparse.Namespace, device: str, folder: Path) -> None:
    from hwsim.calibrate.collectives import default_sizes, run_collectives
    from hwsim.units import format_quantity

    try:
        rows = run_collectives(
            folder / "collectives.csv",
            device=device,
            world_size=args.world_size,
            threads=args.threads,
            sizes=default_sizes(device, quick=args.quick),
            reps=args.reps,
        )
    except Exception as exc:  # noqa: BLE001 - collectives are optional: say why and go on to the fit
        text = str(exc).strip().splitlines()
        print(
            f"hwsim calibrate: collectives skipped: {text[-1] if text else type(exc).__name__}",
            file=sys.stderr,
        )
        return
    for row in rows:
        if row["status"] == "ok":
            print(
                f"{row['collective']:14s} {format_quantity(row['bytes'], 'bytes', binary=True):>10s}  "
                f"busbw {format_quantity(row['busbw'], 'byte_rate'):>12s}  "
                f"min {format_quantity(row['min_s'], 'time')}",
                file=sys.stderr,
            )
        else:
            print(f"{row['collective']:14s} {row['bytes']:g} B  failed: {row['error']}", file=sys.stderr)


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this run, recorded in the files' sources."""
    words = ["hwsim", "calibrate", "--device", args.device, "--threads", str(args.threads)]
    for flag, value in (("-o", args.output), ("--name", args.name), ("--measurements", args.measurements)):
        if value is not None:
            words += [flag, str(value)]
    if args.reps != 10:
        words += ["--reps", str(args.reps)]
    if args.rounds is not None:
        words += ["--rounds", str(args.rounds)]
    if args.world_size != 2:
        words += ["--world-size", str(args.world_size)]
    words += [flag for flag, on in (("--quick", args.quick), ("--no-collectives", args.no_collectives)) if on]
    return shlex.join(words)


def _calibrate(args: argparse.Namespace) -> int:
    _check_usage(args)
    from hwsim.calibrate.device import describe_host, host_stem, resolve_device

    device = resolve_device(args.device)
    from hwsim.calibrate.fit import describe_fit
    from hwsim.calibrate.fit_files import write_fit
    from hwsim.calibrate.microbench import default_sweep, run_sweep
    from hwsim.calibrate.results import COLLECTIVE, MICRO, check_host, read_rows
    from hwsim.yamlio import display_path

    host = describe_host(device, args.threads)
    stem = args.name or host_stem(host)
    calibration, device_file, folder = _paths(args, stem)
    _check_outputs(calibration, device_file, folder)
    _refuse_datasheet(device_file)
    host = check_host(folder, host, rows_file="micro.csv")
    read_rows(folder / "micro.csv", MICRO)  # a malformed file fails here, before anything is measured
    read_rows(folder / "collectives.csv", COLLECTIVE)
    command = _command(args)
    target = 2e-4 if args.quick else 1e-3  # seconds per repetition (hwsim.calibrate.microbench.time_calls)
    print(
        f"measuring {host.gpu_name or host.cpu_model} ({device}, {host.threads} thread(s)) into "
        f"{display_path(folder)}",
        file=sys.stderr,
    )
    try:
        result = run_sweep(
            default_sweep(device, quick=args.quick),
            folder / "micro.csv",
            device=device,
            threads=args.threads,
            reps=args.reps,
            target_s=target,
            progress=_progress,
            rounds=args.rounds or (3 if device == "cpu" and not args.quick else 1),
        )
    except KeyboardInterrupt:
        print(
            f"hwsim calibrate: the rows measured so far are in {display_path(folder / 'micro.csv')}; "
            "rerun the same command to resume",
            file=sys.stderr,
        )
        raise
    print(
        f"{result.measured} measured ({result.failed} failed), {result.skipped} already in the file",
        file=sys.stderr,
    )
    if not args.no_collectives:
        _collectives(args, device, folder)
    fit = write_fit(folder, host, calibration_path=calibration, device_path=device_file, command=command)
    for line in describe_fit(fit):
        print(line, file=sys.stderr)
    print(f"wrote {display_path(device_file)}", file=sys.stderr)
    print(f"wrote {display_path(calibration)}", file=sys.stderr)
    return 0
