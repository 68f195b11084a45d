"""Measurement files: append-only CSV rows flushed as they are measured, a host.json beside them, and resume.

A calibration sweep can run for minutes and be interrupted (Ctrl-C, a killed job, a lost session). So
every measurement is one CSV row written and flushed the moment it is taken; nothing is held back to
write at the end. Rerunning with the same folder reads the rows already there and measures only the
missing ones (`done_keys`). A row that recorded a failure counts as measured (an OOM would fail
again): delete the row to retry it.

A row whose difference of two times is unresolved (hwsim.calibrate.unresolved) also counts as measured
in its round; a later round measures it again.

Two things can be wrong with an existing file. A last line without its newline is a write the kill
cut short: it is dropped (the file is truncated to the last complete row) and measured again. Any
other malformed row (wrong header, wrong number of columns, a number that does not parse) is an
InputError naming the file and the row, since guessing would mix bad data into a fit.

Folder layout (hwsim.calibrate.cli decides where the folder is):
    host.json        the HostInfo of the first run, checked against later runs (same CPU, threads, torch)
    micro.csv        MICRO columns: one row per microbenchmark
    collectives.csv  COLLECTIVE columns: one row per collective and message size
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hwsim.calibrate.device import HostInfo
from hwsim.calibrate.unresolved import UNRESOLVED
from hwsim.errors import InputError, shown
from hwsim.fileio import write_text_atomic
from hwsim.yamlio import display_path

__all__ = ["COLLECTIVE", "MICRO", "Row", "Table", "check_host", "fastest_per_key", "read_rows", "RowWriter"]

Row = dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Table:
    """The columns of one kind of CSV, which of them identify a row, and which are numbers."""

    columns: tuple[str, ...]
    key: tuple[str, ...]
    ints: tuple[str, ...] = ()
    floats: tuple[str, ...] = ()

    def row_key(self, row: Mapping[str, Any]) -> tuple[str, ...]:
        """The identity of a row, the same whether its numbers were read back as floats or given as ints."""
        return tuple(_key_text(row[c]) for c in self.key)


def _key_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# kind: gemm, attention, copy, add, softmax, layer_norm, rms_norm, launch; shape: "x"-joined sizes;
# flop and bytes: the formulas in hwsim.calibrate.microbench; min_s and median_s: seconds per call
# over `reps` repetitions of `calls` back-to-back calls; status: ok, failed, or unresolved (a difference of
# two times within its spread, hwsim.calibrate.unresolved: min_s and median_s empty); error: the failure
# text, or why the row is unresolved.
MICRO = Table(
    columns=(
        "kind",
        "op_class",
        "dtype",
        "shape",
        "flop",
        "bytes",
        "min_s",
        "median_s",
        "reps",
        "calls",
        "status",
        "error",
    ),
    key=("kind", "dtype", "shape"),
    ints=("reps", "calls"),
    floats=("flop", "bytes", "min_s", "median_s"),
)
# bytes: the nccl-tests message size; algbw = bytes / min_s, busbw = algbw x the collective's factor
# (hwsim.calibrate.collectives); both in B/s.
COLLECTIVE = Table(
    columns=(
        "collective",
        "backend",
        "world_size",
        "dtype",
        "bytes",
        "min_s",
        "median_s",
        "reps",
        "algbw",
        "busbw",
        "status",
        "error",
    ),
    key=("collective", "backend", "world_size", "dtype", "bytes"),
    ints=("world_size", "reps"),
    floats=("bytes", "min_s", "median_s", "algbw", "busbw"),
)
STATUSES = ("ok", "failed", UNRESOLVED)
EMPTY_ALLOWED = ("failed", UNRESOLVED)  # statuses whose rows may lack their numbers


def fastest_per_key(rows: Iterable[Row], table: Table, *, column: str = "min_s") -> list[Row]:
    """One row per key: its fastest successful row by `column` (a sweep of several rounds measures each
    key once per round; the round least slowed by the shared host is the one to keep), else its first
    row. First-seen key order."""
    chosen: dict[tuple[str, ...], Row] = {}
    for row in rows:
        key = table.row_key(row)
        have = chosen.get(key)
        if have is None or (row["status"] == "ok" and (have["status"] != "ok" or row[column] < have[column])):
            chosen[key] = row
    return list(chosen.values())


def _parse(table: Table, raw: dict[str, str], where: str, line: int) -> Row:
    row: Row = dict(raw)
    for name in table.ints + table.floats:
        text = raw[name]
        if text == "" and raw["status"] in EMPTY_ALLOWED:
            row[name] = math.nan  # a failed or unresolved row may lack its numbers
            continue
        try:
            value = int(text) if name in table.ints else float(text)
        except ValueError:
            kind = "a whole number" if name in table.ints else "a number"
            raise InputError.one(
                where,
                f"row {line}",
                f"{kind} in column {name}",
                shown(text),
                "fix or delete the row, then rerun",
            ) from None
        row[name] = value
    if raw["status"] not in STATUSES:
        raise InputError.one(
            where,
            f"row {line}",
            "status ok or failed",  # unresolved rows are written by the sweep, not by hand
            shown(raw["status"]),
            "fix or delete the row, then rerun",
        )
    return row


def read_rows(path: Path, table: Table) -> list[Row]:
    """The rows of `path` (none if it does not exist), dropping a torn last line; InputError on a bad row."""
    if not path.exists():
        return []
    where = display_path(path)
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):  # a write cut short by a kill: drop it, it is measured again
        data = data[: data.rfind(b"\n") + 1]
        with path.open("r+b") as f:
            f.truncate(len(data))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError.one(where, "", "a UTF-8 CSV file of measurements", "binary data") from None
    lines = list(csv.reader(io.StringIO(text, newline="")))
    if not lines:
        return []
    if tuple(lines[0]) != table.columns:
        raise InputError.one(
            where,
            "row 1",
            "the header " + ",".join(table.columns),
            shown(",".join(lines[0])),
            "this is not a measurement file of this kind; use another folder",
        )
    rows = []
    for number, values in enumerate(lines[1:], start=2):
        if len(values) != len(table.columns):
            raise InputError.one(
                where,
                f"row {number}",
                f"{len(table.columns)} comma-separated values",
                f"{len(values)}",
                "fix or delete the row, then rerun",
            )
        rows.append(_parse(table, dict(zip(table.columns, values, strict=True)), where, number))
    return rows


def _text(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer() and abs(value) < 2**53:  # FLOP and byte counts stay exact
            return str(int(value))
        return f"{value:.6g}"  # times and rates: 6 significant digits is below any timing noise
    return str(value)


class RowWriter:
    """Appends rows to a CSV, writing the header first when the file is new, flushing after each row."""

    def __init__(self, path: Path, table: Table) -> None:
        self.path = path
        self.table = table
        path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.exists() or path.stat().st_size == 0
        self._file = path.open("a", encoding="utf-8", newline="")
        self._csv = csv.writer(self._file, lineterminator="\n")
        if new:
            self._write(self.table.columns)

    def _write(self, values: Iterable[Any]) -> None:
        buffer = io.StringIO()  # one write call per row: a kill leaves whole rows or a torn last one
        csv.writer(buffer, lineterminator="\n").writerow([_text(v) for v in values])
        self._file.write(buffer.getvalue())
        self._file.flush()

    def append(self, row: Mapping[str, Any]) -> None:
        self._write(row.get(c, "") for c in self.table.columns)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RowWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_host(folder: Path, host: HostInfo, rows_file: str | None = None) -> HostInfo:
    """Write host.json in a new folder; in an existing one check it describes the same host and return it.

    Resuming on another machine, with other threads or another torch would mix incomparable rows.
    `rows_file`: the file this run appends to; when it does not exist yet the measurements start now,
    and host.json's `measured_at` says so (the folder's other files may be older: collectives resume).
    """
    path = folder / "host.json"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(host.to_json(), indent=1) + "\n", encoding="utf-8")
        return host
    where = display_path(path)
    try:
        old = HostInfo.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        raise InputError.one(
            where,
            "",
            "the JSON host description of earlier measurements",
            type(exc).__name__,
            "delete the folder to start again",
        ) from None
    differ = host.same_host(old)
    if differ:
        raise InputError.one(
            where,
            "",
            "measurements from this host and settings",
            "; ".join(differ),
            "use another output folder, or delete this one to start again",
        )
    if rows_file is not None and not (folder / rows_file).exists():
        old = replace(old, measured_at=host.measured_at)
        write_text_atomic(path, json.dumps(old.to_json(), indent=1) + "\n")
    return old
