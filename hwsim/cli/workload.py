"""CLI commands on workloads: `hwsim trace`, `hwsim estimate` and `hwsim compare`.

Every command that builds a model (these and `hwsim validate`) takes `--trust-factory` and
`--factory-path DIR` (`add_trust_flags`): a workload's `model.factory` outside hwsim runs only with
one of them (hwsim.models.trusting_factories). `-o` names a file, checked before the trace so that a
path that cannot be written fails at once, and written atomically (hwsim.fileio).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from hwsim.errors import InputError, UsageError, shown

__all__ = ["add_trust_flags", "factory_trust", "register"]

_WORKLOAD_HELP = (
    "A workload: the stem of a file in workloads/ (e.g. llama3-8b-train) or a path to a YAML file."
)
_SET_HELP = (
    "Override a workload value by its dotted key, e.g. --set task.batch=8 or --set model.layers=2. "
    "May be given several times; values are read as YAML."
)


def add_trust_flags(parser: argparse.ArgumentParser) -> None:
    """--trust-factory and --factory-path, for every command that builds a workload's model."""
    parser.add_argument(
        "--trust-factory",
        action="store_true",
        help="Run the workload's model.factory even when it is not one of hwsim's own: it imports and "
        "calls code the workload file names, so only for files you trust (like trust_remote_code).",
    )
    parser.add_argument(
        "--factory-path",
        action="append",
        default=[],
        type=Path,
        metavar="DIR",
        help="Put DIR first on the import path and trust the factories whose modules are found there "
        "(may be given several times).",
    )


def factory_trust(args: argparse.Namespace) -> contextlib.AbstractContextManager[Any]:
    """The block a command runs in: trusting factories as its flags say (nothing to do without them)."""
    everything = bool(getattr(args, "trust_factory", False))
    folders: list[Path] = list(getattr(args, "factory_path", None) or [])
    if not everything and not folders:
        return contextlib.nullcontext()
    for folder in folders:
        if not folder.is_dir():
            raise InputError.one(
                "<command line>", "--factory-path", "a folder", shown(str(folder)),
                "no such folder" if not folder.exists() else "a file",
            )  # fmt: skip
    from hwsim.models import trusting_factories

    return trusting_factories(everything=everything, paths=folders)


def register(subparsers: argparse._SubParsersAction) -> None:
    trace = subparsers.add_parser(
        "trace",
        help="Trace a workload into an operator graph and summarise it.",
        description=(
            "Build the workload's model on PyTorch's meta device (no memory, no weights), run one step "
            "(training, prefill or decode) and record every ATen operator with its shapes, FLOPs, bytes, "
            "module scope and phase. Prints ops, FLOPs and bytes by phase and op class."
        ),
    )
    trace.add_argument("workload", help=_WORKLOAD_HELP)
    trace.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=_SET_HELP
    )
    add_trust_flags(trace)
    trace.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE",
        help="Also write the graph as JSON (schema hwsim.graph/1) to this file (a file, not a folder).",
    )
    trace.set_defaults(func=_trace)

    est = subparsers.add_parser(
        "estimate",
        help="Estimate one step of a workload on one device of a system.",
        description=(
            "Trace the workload and estimate its step time, throughput, MFU and HFU, memory footprint "
            "against the device's capacity, and what bounds it (compute, memory bandwidth or kernel "
            "launch overhead). Times are in seconds with SI prefixes, sizes in binary bytes (GiB)."
        ),
    )
    est.add_argument("workload", help=_WORKLOAD_HELP)
    est.add_argument(
        "--system",
        required=True,
        help="A device, node or cluster: catalogue stem (e.g. h100_sxm) or YAML path.",
    )
    _common(est)
    est.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE",
        help="Write the estimate as JSON (schema hwsim.estimate/1) to this file (a file, not a folder).",
    )
    est.set_defaults(func=_estimate)

    cmp_ = subparsers.add_parser(
        "compare",
        help="Estimate a workload on several systems and rank them.",
        description=(
            "Estimate one step of the workload on one device of each system and print one row per "
            "system: step time, tokens/s, MFU, bound, memory peak against capacity. The fastest system "
            "on which the workload fits in memory is marked the winner."
        ),
    )
    cmp_.add_argument("workload", help=_WORKLOAD_HELP)
    cmp_.add_argument(
        "--system", required=True, nargs="+", help="Two or more systems: catalogue stems or YAML paths."
    )
    _common(cmp_)
    cmp_.set_defaults(func=_compare)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=_SET_HELP
    )
    parser.add_argument(
        "--calibration",
        help=(
            "A calibration file or stem (hardware_configs/calibrations/). "
            "Default: default-<device>, else default-<kind>."
        ),
    )
    parser.add_argument("--json", action="store_true", help="Print the result as JSON instead of tables.")
    add_trust_flags(parser)


def _graph(args: argparse.Namespace):
    from hwsim.trace import trace_workload
    from hwsim.workload import load_workload

    return trace_workload(load_workload(args.workload, overrides=tuple(args.overrides)))


def _trace(args: argparse.Namespace) -> int:
    from hwsim.report.tables import print_tables, trace_tables
    from hwsim.trace import summarize

    _check_output(args)
    graph = _graph(args)
    if args.output:
        _write_json(args.output, graph.to_json())
    print_tables(trace_tables(summarize(graph)))
    return 0


def _estimates(args: argparse.Namespace, systems: list[str]):
    from hwsim.cost.calibration import load_calibration
    from hwsim.estimate import estimate
    from hwsim.hardware.loader import load_system

    loaded = [(name, load_system(name)) for name in systems]  # bad system names fail before tracing
    calibration = load_calibration(args.calibration) if args.calibration else None
    graph = _graph(args)
    return [estimate(graph, system, calibration, system_name=name) for name, system in loaded]


def _estimate(args: argparse.Namespace) -> int:
    from hwsim.report.tables import estimate_tables, print_tables

    _check_output(args)
    (est,) = _estimates(args, [args.system])
    if args.output:
        _write_json(args.output, est.to_json())
    if args.json:
        print(json.dumps(est.to_json(), indent=2))
    else:
        print_tables(estimate_tables(est))
    return 0


def _compare(args: argparse.Namespace) -> int:
    from hwsim.report.tables import compare_table, print_tables

    if len(args.system) < 2:
        raise UsageError(
            f"<command line>: --system: expected two or more systems to compare, got one, "
            f"{shown(args.system[0])} (hwsim estimate takes a single system)"
        )
    ests = _estimates(args, list(args.system))
    if args.json:
        print(json.dumps({"schema": "hwsim.compare/1", "estimates": [e.to_json() for e in ests]}, indent=2))
    else:
        print_tables([compare_table(ests)])
    return 0


def _check_output(args: argparse.Namespace) -> None:
    """Refuse an -o that cannot be written before the trace, not after it."""
    if args.output is not None:
        from hwsim.fileio import check_output_file

        check_output_file(args.output)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    from hwsim.fileio import write_text_atomic

    write_text_atomic(path, json.dumps(data, indent=1) + "\n")
    print(f"wrote {path}", file=sys.stderr)
