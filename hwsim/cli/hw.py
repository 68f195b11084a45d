"""`hwsim hw list | show | check`: browse the hardware catalogue and validate hardware YAML files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from hwsim.errors import InputError, Problem

__all__ = ["register"]

_UNITS_NOTE = (
    "Quantities are SI with their units: compute in FLOP/s (dense, no sparsity), memory in bytes "
    "(GB = 10^9 B, GiB = 2^30 B), bandwidths in bytes per second per device per direction."
)


def register(subparsers: argparse._SubParsersAction) -> None:
    hw = subparsers.add_parser(
        "hw",
        help="List, show and check hardware descriptions (devices, nodes, clusters).",
        description="List, show and check hardware descriptions: devices, nodes and clusters in YAML. "
        + _UNITS_NOTE,
    )
    hw.set_defaults(func=lambda args: _usage(hw))
    actions = hw.add_subparsers(dest="hw_command", metavar="ACTION")

    listing = actions.add_parser(
        "list",
        help="List the catalogue's devices, nodes and clusters.",
        description="List every device, node and cluster in the catalogue with its headline figures: peak "
        "dense bf16 compute in FLOP/s, memory capacity in bytes and memory bandwidth in B/s for "
        "devices; devices per node and per-device link bandwidths in B/s per direction for nodes "
        "and clusters. " + _UNITS_NOTE,
    )
    listing.set_defaults(func=_list)

    show = actions.add_parser(
        "show",
        help="Print a hardware file as written, or resolved with --resolved.",
        description="Print a hardware file as it is written. With --resolved, print its values after "
        "`extends:` is merged and the node's device and the cluster's node are filled in, with every "
        "quantity formatted with its unit. " + _UNITS_NOTE,
    )
    show.add_argument(
        "name", metavar="NAME|PATH", help="A catalogue name such as h100_sxm, or a path to a YAML file."
    )
    show.add_argument(
        "--resolved",
        action="store_true",
        help="Print the merged values with units instead of the file's text.",
    )
    show.set_defaults(func=_show)

    check = actions.add_parser(
        "check",
        help="Validate hardware YAML files and report every problem.",
        description="Validate each hardware YAML file (device, node or cluster) with the files it extends "
        'or names. A good file gets an "ok" line; a bad one gets one line per problem, naming the '
        "file, the key, what was expected and what was found. The exit status is 1 when any file is bad.",
    )
    check.add_argument(
        "files", nargs="+", metavar="FILE", help="A path to a hardware or calibration YAML file."
    )
    check.set_defaults(func=_check)


def _check_calibration(path: Path) -> str | None:
    """Validate a calibration file of the catalogue (hardware_configs/calibrations/); None for other files."""
    from hwsim.cost.calibration import SCHEMA, load_calibration
    from hwsim.yamlio import parse_yaml_text

    try:
        data = parse_yaml_text(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError, InputError):
        return None  # check_file reports it, with the line number
    if not (isinstance(data, dict) and data.get("schema") == SCHEMA):
        return None
    cal = load_calibration(path)
    target = cal.applies_to_device or f"any {cal.applies_to_kind}"
    return f"calibration {path.stem} for {target} ({'fitted' if cal.fitted else 'published defaults'})"


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _check(args: argparse.Namespace) -> int:
    from hwsim.hardware.loader import check_file
    from hwsim.yamlio import display_path

    problems: list[Problem] = []
    for name in args.files:
        try:
            what = _check_calibration(Path(name)) or check_file(name)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        print(f"ok {display_path(Path(name))}: {what}")
    if problems:
        raise InputError(problems)
    return 0


def _show(args: argparse.Namespace) -> int:
    from hwsim.hardware.loader import check_file, hardware_kind, load_merged, load_system, locate
    from hwsim.hardware.render import dump_yaml, resolved
    from hwsim.yamlio import display_path

    path = locate(args.name)
    if not args.resolved:
        hardware_kind(path)  # refuse a directory, a missing file or a file that is not hardware
        sys.stdout.write(path.read_text(encoding="utf-8"))
        return 0
    kind = hardware_kind(path)
    header = f"# {path.stem}: {display_path(path)} (resolved; bandwidths per device, per direction)\n"
    if kind == "device":
        merged = load_merged(path, "device")
        if merged.get("abstract"):
            check_file(path)  # validate what the template does say
            merged.pop("_chain", None)
            header = f"# {path.stem}: {display_path(path)} (abstract template: extend it and set the peaks)\n"
            sys.stdout.write(header + dump_yaml(merged))
            return 0
    data: dict[str, Any] = resolved(load_system(path))
    sys.stdout.write(header + dump_yaml(data))
    return 0


def _list(args: argparse.Namespace) -> int:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from hwsim.hardware.loader import list_catalogue, load_system
    from hwsim.hardware.render import quantity_text
    from hwsim.hardware.spec import Cluster, Device, Node, device_count

    def rate(value: float | None, kind: str) -> str:
        return "-" if value is None else quantity_text(value, kind, digits=4)

    tables = {
        "device": Table(
            "name", "kind", "vendor", "peak bf16", "memory", "bandwidth", title="Devices", box=box.SIMPLE
        ),
        "node": Table("name", "device", "devices", "scale-up", "scale-out", title="Nodes", box=box.SIMPLE),
        "cluster": Table(
            "name", "node", "devices", "outer level", "per device", title="Clusters", box=box.SIMPLE
        ),
    }
    for entry in list_catalogue():
        try:
            system = load_system(entry.path)
        except InputError as exc:
            abstract = entry.kind == "device" and exc.problems[0].key == "abstract"
            note = "template (abstract)" if abstract else "invalid: run hwsim hw check"
            tables[entry.kind].add_row(entry.name, note, *["-"] * (len(tables[entry.kind].columns) - 2))
            continue
        if isinstance(system, Device):
            kind = system.kind + (" (measured)" if system.measured else "")
            tables["device"].add_row(
                system.name,
                kind,
                system.vendor,
                rate(system.peak_flops("bf16"), "flop_rate"),
                rate(system.memory_capacity, "bytes"),
                rate(system.memory_bandwidth, "byte_rate"),
            )
        elif isinstance(system, Node):
            out = system.scale_out.bandwidth if system.scale_out else None
            tables["node"].add_row(
                system.name,
                system.device.name,
                str(system.count),
                rate(system.scale_up.bandwidth, "byte_rate"),
                rate(out, "byte_rate"),
            )
        elif isinstance(system, Cluster):
            outer = system.levels[-1]
            tables["cluster"].add_row(
                system.name,
                system.node.name,
                str(device_count(system)),
                f"{outer.name} ({outer.topology})",
                rate(outer.bandwidth, "byte_rate"),
            )
    console = Console(width=max(Console().width, 100))
    for table in tables.values():
        console.print(table)
    console.print(
        "Bandwidths are per device, per direction; compute is dense. `hwsim hw show NAME` for details."
    )
    return 0
