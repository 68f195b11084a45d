"""The fits of the host-side rows (hwsim.calibrate.fit calls them): host_cold curves, cache residency,
which host_cold rows are left out because their difference is unresolved (hwsim.calibrate.unresolved),
and the isotonic regression every non-decreasing curve of the fit uses."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from hwsim.calibrate.unresolved import UNRESOLVED, difference, row_name
from hwsim.units import format_quantity, parse_quantity

__all__ = ["HOST_COLD_KEY_OF_KIND", "HOST_OP_BYTES_GRID", "host_cold_fit", "isotonic", "residency_fit",
           "unresolved_rows"]  # fmt: skip

# host_cold rows and the calibration key each fits: any ATen op, or the zoo's RMS norm op
HOST_COLD_KEY_OF_KIND = {"host_cold": "aten", "host_cold_norm": "hwsim.rms_norm.default"}
HOST_OP_BYTES_GRID = (0.0, *(2.0**k for k in range(10, 21)))  # 0 and 1 KiB ... 1 MiB in powers of 2
CURVE_DIGITS = 3  # significant digits of curve times and fractions (as hwsim.calibrate.fit writes them)


def _sig(value: float, digits: int) -> float:
    return float(f"{value:.{digits}g}")


def _written_time(seconds: float) -> float:
    return parse_quantity(format_quantity(seconds, "time", digits=CURVE_DIGITS), "time")


def isotonic(values: Sequence[float], weights: Sequence[float] | None = None) -> list[float]:
    """The non-decreasing sequence closest to `values` in weighted least squares (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [mean, weight, count]
    for value, weight in zip(values, weights or [1.0] * len(values), strict=True):
        blocks.append([value, weight, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            (m1, w1, c1), (m2, w2, c2) = blocks[-2], blocks[-1]
            blocks[-2:] = [[(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, c1 + c2]]
    return [mean for mean, _, count in blocks for _ in range(count)]


def unresolved_rows(rows: list[dict[str, Any]]) -> dict[str, str]:
    """The host_cold rows not to fit, by name (hwsim.calibrate.unresolved.row_name), and why: rows the
    sweep recorded `unresolved`, and `ok` rows (measured before the rule, or edited) whose paired
    differences are not all above zero."""
    out: dict[str, str] = {}
    for r in rows:
        if r["kind"] not in HOST_COLD_KEY_OF_KIND:
            continue
        if r["status"] == UNRESOLVED:
            out[row_name(r)] = r["error"] or "unresolved when measured"
        elif r["status"] == "ok" and not (gap := difference(r)).resolved:
            out[row_name(r)] = "unresolved: " + gap.why("in-step less hot time")
    return out


def host_cold_fit(
    rows: list[dict[str, Any]], skip: set[str] | frozenset[str] = frozenset()
) -> tuple[float, dict[str, tuple[tuple[float, float], ...]]]:
    """(op_bytes, host_cold curves) from the host_cold rows (those named in `skip` left out: their
    difference is unresolved, unresolved_rows): each row is a chain block of B data bytes and O ops
    (shape width x rows x extra: O = 6 + extra) whose small ops cost p more than hot. Between two
    calls of one op, B bytes streamed and O ops ran, each bringing in op_bytes of host state; the
    curves are p against distance = B + O x op_bytes, per key (HOST_COLD_KEY_OF_KIND), made
    non-decreasing (more touched in between cannot leave more in the cache: what says otherwise is
    noise). op_bytes is the value on HOST_OP_BYTES_GRID whose non-decreasing fits leave the least
    squared residual, each key's residuals over its largest p (the RMS norm op's penalties are ten
    times an add's and would otherwise decide alone). A key whose rows are all unresolved has no curve
    (below its first point a curve is flat: an unresolved hot end is not pinned to zero)."""
    by_key: dict[str, list[tuple[float, int, float]]] = defaultdict(list)
    for r in rows:
        if r["kind"] in HOST_COLD_KEY_OF_KIND and r["status"] == "ok" and row_name(r) not in skip:
            _width, _rows, extra = (int(d) for d in str(r["shape"]).split("x"))
            by_key[HOST_COLD_KEY_OF_KIND[r["kind"]]].append((r["bytes"], 6 + extra, r["time_s"]))
    if not by_key:
        return 0.0, {}

    def curves(op_bytes: float) -> tuple[float, dict[str, list[tuple[float, float]]]]:
        residual, out = 0.0, {}
        for key, points in by_key.items():
            at = sorted((b + ops * op_bytes, p) for b, ops, p in points)
            ys = isotonic([p for _, p in at])
            scale = max(max(p for _, p in at), 1e-12)
            residual += sum(((p - y) / scale) ** 2 for (_, p), y in zip(at, ys, strict=True))
            out[key] = [(d, y) for (d, _), y in zip(at, ys, strict=True)]
        return residual, out

    op_bytes = min(HOST_OP_BYTES_GRID, key=lambda h: curves(h)[0])
    fitted = {
        key: tuple((d, _written_time(y)) for d, y in points)
        for key, points in sorted(curves(op_bytes)[1].items())
    }
    return op_bytes, fitted


def residency_fit(rows: list[dict[str, Any]]) -> dict[int, tuple[tuple[float, float], ...]]:
    """The residency curves, one per GEMM row count m: (bytes cycled, time / time past the LLC) of the
    `residency` rows of that m, the largest (past the LLC) as the reference; capped at 1 and made
    non-decreasing (cycling more bytes cannot be faster: what says otherwise is the host's noise)."""
    by_rows: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for r in rows:
        if r["kind"] == "residency" and r["status"] == "ok":
            m, _n, _k, mib = (int(d) for d in str(r["shape"]).split("x"))
            by_rows[m].append((mib * 2.0**20, r["time_s"]))
    out = {}
    for m, points in sorted(by_rows.items()):
        if len(points) < 2:
            continue
        points.sort()
        cold = points[-1][1]
        ys = isotonic([min(1.0, t / cold) for _, t in points])
        out[m] = tuple(
            (x, max(_sig(y, CURVE_DIGITS), 10.0**-CURVE_DIGITS)) for (x, _), y in zip(points, ys, strict=True)
        )
    return out
