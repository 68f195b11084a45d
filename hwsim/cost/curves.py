"""The piecewise curves a calibration is made of, and the readers of its factor sections.

A `Curve` is a power law between neighbouring measured points (piecewise linear in log(x) against
log(y)) and flat beyond them; x is an op's ideal time (efficiency curves), a GEMM's rows or an
attention head size (factor tables), or the bytes a step touches (`Residency`).
hwsim.cost.calibration says what each section means.

Why log-log: below the sizes that fill a device an op's time is a fixed cost, so its efficiency is
proportional to its size, a straight line in log-log. Interpolating the efficiency linearly in log(x)
instead bends that line upwards between two points: the zoo's RMS norm op, measured at 25 us a call
on 64 and on 1,024 elements (ideal 64 ns and 1 us), read 13 us at 400 elements (ideal 0.33 us), half
of what it takes. Where a curve flattens towards its best the two interpolations agree.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from hwsim.errors import Problems, shown
from hwsim.limits import MAX_COUNT
from hwsim.units import QuantityError, parse_quantity
from hwsim.yamlio import FieldReader

__all__ = ["Curve", "HostCold", "Residency", "read_factor_table", "read_host_cold", "read_residency"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Curve:
    """A power law between neighbouring points (linear in log-log); flat outside the measured points."""

    points: tuple[tuple[float, float], ...]  # (ideal time in s, fraction of best), sorted by time

    def __call__(self, ideal_s: float) -> float:
        pts = self.points
        if len(pts) == 1 or ideal_s <= pts[0][0]:
            return pts[0][1]
        if ideal_s >= pts[-1][0]:
            return pts[-1][1]
        i = bisect.bisect_left(pts, (ideal_s,))  # pts[i-1][0] < ideal_s <= pts[i][0]
        (x0, y0), (x1, y1) = pts[i - 1], pts[i]
        return y0 * (y1 / y0) ** (math.log(ideal_s / x0) / math.log(x1 / x0))

    def covers(self, ideal_s: float) -> bool:
        return self.points[0][0] <= ideal_s <= self.points[-1][0]

    def many(self, ideal_s: np.ndarray) -> np.ndarray:
        """The curve at many sizes at once (np.interp is flat beyond the end points, like __call__)."""
        xs = np.log([x for x, _ in self.points])
        ys = np.log([y for _, y in self.points])
        return np.exp(np.interp(np.log(np.maximum(ideal_s, 1e-300)), xs, ys))

    def covers_many(self, ideal_s: np.ndarray) -> np.ndarray:
        """Whether each size lies inside the measured points; a one-point curve has no range to leave."""
        if len(self.points) < 2:
            return np.ones(len(ideal_s), dtype=bool)
        return (ideal_s >= self.points[0][0]) & (ideal_s <= self.points[-1][0])


@dataclass(frozen=True, slots=True, kw_only=True)
class Residency:
    """The `residency` curves: per GEMM row count, the factor on streaming ops over a step's traffic."""

    curves: tuple[tuple[float, Curve], ...]  # (rows, factor over bytes touched), sorted by rows

    def many(self, traffic_bytes: float, rows: np.ndarray) -> np.ndarray:
        """Factors for ops of `rows` rows (min(m, n); 0 for a streaming op that is not a GEMM: the fewest
        rows' curve) in a step touching `traffic_bytes`: a power law in rows between the measured row
        counts (as `Curve`), flat beyond."""
        xs = np.log([r for r, _ in self.curves])
        ys = np.log([curve(traffic_bytes) for _, curve in self.curves])
        return np.exp(np.interp(np.log(np.maximum(np.asarray(rows, dtype=float), 1e-300)), xs, ys))

    def __call__(self, traffic_bytes: float, rows: float = 0.0) -> float:
        return float(self.many(traffic_bytes, np.array([rows]))[0])


@dataclass(frozen=True, slots=True, kw_only=True)
class HostCold:
    """The `host_cold` curves: per key ("aten": any op; or an op's target), the host seconds an op pays
    in a step over the distance since the op's previous call (the bytes the ops in between touched,
    plus op_bytes for each of them: hwsim.cost.roofline). Linear in log(bytes)
    between the measured points (the seconds may be 0, so not log-log), flat beyond them."""

    curves: tuple[tuple[str, tuple[tuple[float, float], ...]], ...]  # (key, ((bytes, seconds), ...))
    op_bytes: float = 0.0  # host state each op touches, counted into the distance like its data bytes

    def keys(self) -> tuple[str, ...]:
        return tuple(key for key, _ in self.curves)

    def many(self, key: str, distance_bytes: np.ndarray) -> np.ndarray:
        """Seconds at many distances for ops of `key` (the "aten" curve where `key` has none; zeros
        where neither is given)."""
        points = dict(self.curves).get(key) or dict(self.curves).get("aten")
        if not points:
            return np.zeros(len(distance_bytes))
        xs = np.log([x for x, _ in points])
        return np.interp(np.log(np.maximum(distance_bytes, 1.0)), xs, [y for _, y in points])


def read_factor_table(reader: FieldReader, problems: Problems, *, what: str, most: float) -> dict[str, Curve]:
    """A factor table: dtype ("default" first) -> [[size, factor], ...], the size a whole number >= 1
    (`what` names it in messages: GEMM rows, head size) and the factor in (0, most]."""
    curves: dict[str, Curve] = {}
    for dtype, raw in list(reader.items()):
        key = reader.key(dtype)
        points: list[tuple[float, float]] = []
        for i, pair in enumerate(raw if isinstance(raw, list) else [None]):
            ok = isinstance(pair, list) and len(pair) == 2
            size, factor = pair if ok else (None, None)  # type: ignore[misc]
            if not (isinstance(size, int) and not isinstance(size, bool) and 1 <= size <= MAX_COUNT):
                ok = False
            if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor <= most:
                ok = False
            if not ok:
                expected = f"a pair [{what} (a whole number >= 1), factor in (0, {most:g}]]"
                problems.add(f"{key}[{i}]", expected, str(pair) if isinstance(pair, list) else shown(pair))
                continue
            points.append((float(size), float(factor)))
        if points:
            curves[dtype] = Curve(points=tuple(sorted(points)))
    reader.finish()
    return curves


def read_residency(raw: Any, key: str, problems: Problems) -> Residency | None:
    """residency: {rows: [[bytes, factor], ...]} (or one list for every row count), bytes a quantity
    like "32 MiB", factor in (0, 1], rows a whole number >= 1."""
    if isinstance(raw, list):
        curve = _read_residency_curve(raw, key, problems)
        return None if curve is None else Residency(curves=((1.0, curve),))
    if not isinstance(raw, dict) or not raw:
        problems.add(key, 'a mapping {rows: [["32 MiB", factor], ...]} or one such list', shown(raw))
        return None
    curves: list[tuple[float, Curve]] = []
    for rows, pairs in raw.items():
        if isinstance(rows, bool) or not isinstance(rows, int) or not 1 <= rows <= MAX_COUNT:
            problems.add(f"{key}.{rows}", "a GEMM row count (a whole number >= 1)", shown(rows))
            continue
        curve = _read_residency_curve(pairs, f"{key}.{rows}", problems)
        if curve is not None:
            curves.append((float(rows), curve))
    return Residency(curves=tuple(sorted(curves, key=lambda rc: rc[0]))) if curves else None


def _read_residency_curve(raw: Any, key: str, problems: Problems) -> Curve | None:
    points: list[tuple[float, float]] = []
    for i, pair in enumerate(raw if isinstance(raw, list) and raw else [None]):
        ok = isinstance(pair, list) and len(pair) == 2
        size, factor = pair if ok else (None, None)  # type: ignore[misc]
        try:
            nbytes = parse_quantity(size, "bytes") if ok else 0.0
        except QuantityError:
            nbytes = 0.0
        if (
            nbytes <= 0
            or isinstance(factor, bool)
            or not isinstance(factor, (int, float))
            or not 0 < factor <= 1
        ):
            expected = 'a pair ["32 MiB", factor in (0, 1]]'
            problems.add(f"{key}[{i}]", expected, str(pair) if isinstance(pair, list) else shown(pair))
            continue
        points.append((nbytes, float(factor)))
    return Curve(points=tuple(sorted(points))) if points else None


def read_host_cold(raw: Any, key: str, problems: Problems, keys: tuple[str, ...]) -> HostCold | None:
    """host_cold: {op_bytes: "32 KiB", aten | target: [["2 MiB", "5 us"], ...]}, bytes a positive
    quantity, time >= 0, a target one of `keys`, op_bytes (optional, default 0) bytes >= 0."""
    if not isinstance(raw, dict) or not raw:
        problems.add(key, 'a mapping {aten: [["2 MiB", "5 us"], ...]}', shown(raw))
        return None
    curves: list[tuple[str, tuple[tuple[float, float], ...]]] = []
    op_bytes = 0.0
    for name, pairs in raw.items():
        where = f"{key}.{name}"
        if name == "op_bytes":
            try:
                op_bytes = parse_quantity(pairs, "bytes")
            except QuantityError:
                op_bytes = -1.0
            if op_bytes < 0:
                problems.add(where, 'bytes of host state per op, e.g. "48 KiB"', shown(pairs))
            continue
        if name != "aten" and name not in keys:
            problems.add(where, f"aten or one of {', '.join(keys)}", shown(name))
            continue
        points: list[tuple[float, float]] = []
        for i, pair in enumerate(pairs if isinstance(pairs, list) and pairs else [None]):
            try:
                ok = isinstance(pair, list) and len(pair) == 2
                nbytes = parse_quantity(pair[0], "bytes") if ok else 0.0  # type: ignore[index]
                seconds = parse_quantity(pair[1], "time") if ok else -1.0  # type: ignore[index]
            except QuantityError:
                nbytes, seconds = 0.0, -1.0
            if nbytes <= 0 or seconds < 0:
                expected = 'a pair ["2 MiB", "5 us"] (bytes > 0, a time >= 0)'
                problems.add(f"{where}[{i}]", expected, str(pair) if isinstance(pair, list) else shown(pair))
                continue
            points.append((nbytes, seconds))
        if points:
            curves.append((str(name), tuple(sorted(points))))
    return HostCold(curves=tuple(curves), op_bytes=max(op_bytes, 0.0)) if curves else None
