"""Which device file and calibration an estimate of this host uses, and whether they still describe it.

`hwsim validate` estimates the host it measures: by default with the measured device file and the
fitted calibration that `hwsim calibrate` wrote for it (found by host stem). A calibration for another
device kind, another host or thread count, or a malformed one is refused before anything is measured
(`check_calibration`); `host_drift` re-reads the calibration's own microbenchmark rows to say how much
faster or slower the host runs now than when it was calibrated.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from hwsim.calibrate.device import HostInfo, host_stem
from hwsim.calibrate.measure import Measurement
from hwsim.errors import InputError, shown
from hwsim.yamlio import display_path

__all__ = ["DRIFT_BENCHES", "check_calibration", "host_drift", "resolve_system", "settle_host"]


def _calibrate_hint(device: str, threads: int) -> str:
    extra = f" --threads {threads}" if device == "cpu" and threads != 1 else ""
    return f"run `hwsim calibrate --device {device}{extra}` first, or pass --system and --calibration"


def resolve_system(
    device: str, host: HostInfo, system: str | None, calibration: str | None
) -> tuple[Any, str, Any]:
    """(System, its name, Calibration) for estimating on this host: the measured device file and its
    fitted calibration that `hwsim calibrate` wrote (found by host stem), unless given."""
    from hwsim.cost.calibration import default_calibration, load_calibration
    from hwsim.hardware.loader import load_system
    from hwsim.hardware.spec import device_of
    from hwsim.resources import catalogue_dir, find_by_stem

    if system is None:
        stem = host_stem(host)
        path = find_by_stem(catalogue_dir() / "devices", stem)
        if path is None:
            raise InputError.one(
                "<command line>", "--system", f"the measured device file of this host ({stem})", "none",
                _calibrate_hint(device, host.threads),
            )  # fmt: skip
        system = str(path)
    loaded = load_system(system)
    dev = device_of(loaded)
    want = "cpu" if device == "cpu" else "gpu"
    if dev.kind != want:
        raise InputError.one(
            "<command line>", "--system", f"a {want} device (what --device {device} runs on)",
            f"{dev.name}, a {dev.kind}",
        )  # fmt: skip
    if calibration is not None:
        cal = load_calibration(calibration)
    else:
        fitted = find_by_stem(catalogue_dir() / "calibrations", f"fitted-{dev.name}")
        if fitted is not None:
            cal = load_calibration(fitted)
        elif dev.kind == "cpu":
            raise InputError.one(
                "<command line>", "--calibration",
                f"the fitted calibration of {dev.name} (fitted-{dev.name})", "none",
                _calibrate_hint(device, host.threads),
            )  # fmt: skip
        else:
            cal = default_calibration(dev.name, dev.kind)
    check_calibration(cal, dev, host)
    return loaded, Path(system).stem if "/" in str(system) else str(system), cal


def check_calibration(cal: Any, dev: Any, host: HostInfo) -> None:
    """Refuse a calibration for another kind of device, or a stale one: fitted for another device
    file, on another host, or with another thread count than this run uses."""
    where = display_path(Path(cal.path))
    if cal.applies_to_kind != dev.kind:
        raise InputError.one(
            where, "applies_to.kind", f"a calibration for a {dev.kind} (the device {dev.name})",
            shown(cal.applies_to_kind), "a calibration applies only to devices of its kind",
        )  # fmt: skip
    if not cal.fitted:
        return  # published defaults: not fitted anywhere, nothing to be stale about
    stale = "a stale calibration"
    if cal.applies_to_device and cal.applies_to_device != dev.name:
        raise InputError.one(
            where, "applies_to.device", f"a calibration fitted for the device {dev.name}",
            shown(cal.applies_to_device), f"{stale}: pass the calibration of {dev.name}",
        )  # fmt: skip
    here, key = (
        (host.gpu_name, "fitted_on.gpu") if host.device == "cuda" else (host.cpu_model, "fitted_on.host")
    )
    there = cal.meta.get(key.split(".")[1])
    if there is not None and there != here:
        raise InputError.one(
            where, key, f"a calibration fitted on this host ({shown(here)})", shown(there),
            f"{stale}: run `hwsim calibrate --device {host.device}` on this host",
        )  # fmt: skip
    if host.device == "cpu" and cal.threads is not None and cal.threads != host.threads:
        raise InputError.one(
            where, "threads", f"a calibration fitted with the {host.threads} thread(s) this run uses",
            shown(cal.threads),
            f"{stale}: run `hwsim calibrate --device cpu --threads {host.threads}`, or validate with "
            f"--threads {cal.threads}",
        )  # fmt: skip


# Three of the calibration's own microbenchmarks, re-timed with each measurement (hwsim.calibrate.microbench).
DRIFT_BENCHES = {
    "cpu": (("launch", "fp32", (1,)), ("gemm", "fp32", (256, 256, 256)), ("copy", "fp32", (16384, 1024))),
    "cuda": (("launch", "fp32", (1,)), ("gemm", "bf16", (4096, 4096, 4096)), ("copy", "bf16", (65536, 4096))),
}  # dispatch, compute and memory bandwidth: a neighbour may take any of them


SETTLE_BENCHES = 2  # of DRIFT_BENCHES: the GEMM and the copy (the launch row swings 2x within seconds)
SETTLE_TOLERANCE = 0.10  # the host counts as at its calibrated speed within this much, slower or faster
SETTLE_PAUSE_S = 15.0  # between checks while waiting


def settle_host(
    cal: Any,
    device: str,
    threads: int,
    *,
    max_wait_s: float,
    pause_s: float = SETTLE_PAUSE_S,
    progress: Any = None,
) -> tuple[float, dict[str, float]]:
    """Wait (up to `max_wait_s`) until the host runs the calibration's own GEMM and copy microbenchmarks
    within SETTLE_TOLERANCE of their calibrated times, then return (seconds waited, last drift).

    Why: on this project's shared VM the host's speed moves by tens of percent for minutes at a time
    (a 256^3 fp32 GEMM on one core: 221 us and 490 us in two passes of one calibration, 325-450 us
    and 145 us within the next half hour); a validation taken in such a spell compares another host
    with the calibrated one. Waiting for the speed the calibration saw, and
    reporting the drift anyway, keeps that out of the errors without touching a measured number.
    Returns at once ({} drift) when the calibration's rows are not found."""
    import time

    from hwsim.calibrate.device import pinned_threads
    from hwsim.calibrate.measure import time_bench

    reference = _calibration_rows(cal)
    benches = DRIFT_BENCHES[device][-SETTLE_BENCHES:]
    start = time.monotonic()
    drift: dict[str, float] = {}
    while reference:
        with pinned_threads(threads):
            timed = [time_bench(kind, dtype, shape, device) for kind, dtype, shape in benches]
        drift = {name: min(t) / reference[name] - 1 for name, t in timed if reference.get(name, 0) > 0}
        waited = time.monotonic() - start
        if all(abs(d) <= SETTLE_TOLERANCE for d in drift.values()) or waited + pause_s > max_wait_s:
            return waited, drift
        if progress:
            slow = ", ".join(f"{k} {100 * d:+.0f}%" for k, d in drift.items())
            progress(f"host speed differs from calibration ({slow}): waiting {pause_s:g} s")
        time.sleep(pause_s)
    return 0.0, drift


def _calibration_rows(cal: Any) -> dict[str, float]:
    """Per microbenchmark key ("kind dtype shape") its fastest min time in the calibration's own rows."""
    from hwsim.calibrate.results import MICRO, read_rows

    path = Path(cal.meta.get("measurements", "")) / "micro.csv"
    if not cal.fitted or not path.is_file():
        return {}
    rows: dict[str, float] = {}
    for r in read_rows(path, MICRO):  # a key measured in several rounds: its fastest
        if r["status"] == "ok":
            key = " ".join(MICRO.row_key(r))
            rows[key] = min(rows.get(key, math.inf), r["min_s"])
    return rows


def host_drift(cal: Any, measurement: Measurement) -> dict[str, float]:
    """How much slower (+) or faster (-) the host ran when `measurement` was taken than when `cal` was
    fitted: per microbenchmark the measurement re-timed (DRIFT_BENCHES), min then / min in the
    calibration's own rows - 1. A shared host's speed moves by tens of percent between hours; an error
    of that size can be the host, not the model. {} when the calibration's rows are not found
    (cal.meta["measurements"]/micro.csv)."""
    rows = _calibration_rows(cal)
    return {k: t / rows[k] - 1 for k, t in measurement.benches.items() if rows.get(k, 0) > 0}
