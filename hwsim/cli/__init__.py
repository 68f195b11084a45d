"""The `hwsim` command line: argument parsing, dispatch, and turning HwsimError into text and exit codes.

Each command group lives in its own module with a `register(subparsers)` function that adds its
parsers and sets `func` on them; heavy imports (torch) happen inside the command functions so that
`hwsim hw list` stays fast. Exit codes: 0 ok, 1 bad input, 2 bad usage. A bad input never shows a
traceback unless HWSIM_DEBUG=1; neither does a file the system refuses to read or write (one line
naming it and the OS reason). Commands that build a workload's model run inside the factory trust
their --trust-factory / --factory-path flags give (hwsim.cli.workload.factory_trust).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from hwsim import __version__
from hwsim.errors import HwsimError

# Command-group modules, in the order their commands appear in --help.
_GROUPS = ("hwsim.cli.hw", "hwsim.cli.workload", "hwsim.cli.calibrate", "hwsim.cli.validate")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hwsim",
        description=(
            "Trace Transformer workloads from real PyTorch code and estimate their time, memory and "
            "bottlenecks on hardware described in YAML. Quantities are written with their units, "
            'for example "989 TFLOP/s", "3.35 TB/s" or "80 GiB".'
        ),
    )
    parser.add_argument("--version", action="version", version=f"hwsim {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    import importlib

    for name in _GROUPS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        from hwsim.cli.workload import factory_trust

        with factory_trust(args):  # --trust-factory / --factory-path, on the commands that build models
            return int(args.func(args) or 0)
    except HwsimError as exc:
        if os.environ.get("HWSIM_DEBUG") == "1":
            raise
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # The reader closed the pipe (`hwsim ... | head`): not an error. Point stdout at /dev/null so
        # that Python's exit-time flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # a file that cannot be read or written, met below the checks: one line
        if os.environ.get("HWSIM_DEBUG") == "1" or exc.filename is None:
            raise
        from pathlib import Path

        from hwsim.fileio import os_error

        print(str(os_error(Path(exc.filename), exc, "a file hwsim can read or write")), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("hwsim: interrupted", file=sys.stderr)
        return 130
