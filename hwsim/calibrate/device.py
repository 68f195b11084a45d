"""Describe the machine a calibration runs on (CPU, threads, torch, GPU and driver) and pick the torch device.

A calibration is only as meaningful as the facts about where it was measured: the same GEMM runs at
90 GFLOP/s on one pinned core of a shared Xeon and at 700 TFLOP/s on an H200. `describe_host` collects
those facts once; they are written beside the measurements (host.json), into the fitted calibration's
`fitted_on:` block and into the measured device file. `resolve_device` turns `--device cpu|cuda` into
a torch device name, failing with one clear line when CUDA is asked for and absent.

The device stem of a measured host (`host_stem`) is the slugified CPU model plus the thread count for
a CPU ("intel_xeon_processor_1t": a 1-thread peak is not a 2-thread peak), or the slugified GPU name
for CUDA ("nvidia_h200"), so that measured files never take the name of a datasheet file.

`HWSIM_CPU_MODEL` (CPU_MODEL_ENV), when set and not empty, replaces the CPU model string that
/proc/cpuinfo gives (and with it the stem and every file name made from it); its vendor is its first
word where that is a known vendor ("AMD", "Intel"), else unknown. It exists so that the tests can be
run as if on another host (file names that sort differently, e.g. "AMD EPYC 7B13 64-Core Processor"
or "AAA Test CPU"), and to name a host whose cpuinfo says nothing useful ("AMD EPYC" on a VM).
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hwsim.errors import InputError, shown

__all__ = ["CPU_MODEL_ENV", "DEVICES", "HostInfo", "describe_host", "host_stem", "llc_bytes",
           "pinned_threads", "resolve_device", "slugify"]  # fmt: skip

DEVICES: tuple[str, ...] = ("cpu", "cuda")
CPU_MODEL_ENV = "HWSIM_CPU_MODEL"  # overrides the CPU model string (the module doc)
_CPUINFO = Path("/proc/cpuinfo")
_MEMINFO = Path("/proc/meminfo")
_LLC = Path("/sys/devices/system/cpu/cpu0/cache")
_VENDORS = {"GenuineIntel": "Intel", "AuthenticAMD": "AMD"}
_SIZE_SUFFIX = {"K": 2**10, "M": 2**20, "G": 2**30}


@dataclass(frozen=True, slots=True, kw_only=True)
class HostInfo:
    """Facts about where measurements were taken; all plain values so that they round-trip through JSON."""

    device: str  # "cpu" or "cuda"
    cpu_model: str
    cpu_vendor: str  # "Intel", "AMD", ... or "" when unknown
    cpu_count: int  # logical CPUs the OS reports
    threads: int  # torch intra-op threads the measurements were pinned to
    memory_bytes: int  # RAM the OS reports (MemTotal, else sysconf); 0 when unknown
    llc_bytes: int  # last-level cache of one CPU as sysfs reports it; 0 when unknown
    torch_version: str
    python_version: str
    platform: str
    gpu_name: str = ""
    gpu_count: int = 0
    gpu_memory_bytes: int = 0
    gpu_l2_bytes: int = 0
    driver: str = ""  # NVIDIA driver version (nvidia-smi), "" when not found
    cuda_version: str = ""  # CUDA runtime torch was built with
    measured_at: str = ""  # UTC time the measurements started, ISO 8601

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HostInfo:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def same_host(self, other: HostInfo) -> list[str]:
        """The facts that differ between two descriptions, as "name: a != b" (empty when comparable)."""
        keys = ("device", "cpu_model", "threads", "torch_version", "gpu_name")
        return [
            f"{k} {getattr(other, k)!r} (now {getattr(self, k)!r})"
            for k in keys
            if getattr(self, k) != getattr(other, k)
        ]


def resolve_device(name: str, *, where: str = "<command line>", key: str = "--device") -> str:
    """Return "cpu" or "cuda" for `name`; InputError when it is unknown or CUDA is asked for and absent."""
    if name not in DEVICES:
        raise InputError.one(where, key, "cpu or cuda", shown(name))
    if name == "cuda":
        import torch

        if not torch.cuda.is_available():
            build = torch.version.cuda
            why = (
                f"this torch {torch.__version__} is a CPU-only build"
                if build is None
                else "no GPU is visible"
            )
            raise InputError.one(
                where,
                key,
                "a CUDA GPU",
                "none",
                f"torch.cuda.is_available() is False: {why}; use --device cpu",
            )
    return name


def slugify(text: str) -> str:
    """A file stem from a product name: "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz" -> "intel_xeon_gold_6338".

    Trademark marks, the clock and the words CPU/Processor are dropped; the rest is lowercase words
    joined by "_".
    """
    text = re.sub(r"\((?:R|TM|C)\)", "", text, flags=re.IGNORECASE)
    text = re.sub(r"@.*$", "", text)  # the clock speed is not part of the model name
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    short = re.sub(r"(^|_)(cpu|processor)(?=_|$)", "", slug).strip("_")  # words every CPU model has
    return short or slug or "host"


def host_stem(info: HostInfo) -> str:
    """The device stem of a measured host: slugified GPU name, or CPU model plus thread count."""
    if info.device == "cuda":
        return slugify(info.gpu_name)
    return f"{slugify(info.cpu_model)}_{info.threads}t"


def _cpuinfo() -> tuple[str, str]:
    """(CPU model, vendor): from $HWSIM_CPU_MODEL when it is set and not empty (the vendor then its first
    word if a known vendor, else ""), otherwise from /proc/cpuinfo (else platform's processor name)."""
    override = os.environ.get(CPU_MODEL_ENV, "").strip()
    if override:
        words = re.sub(r"\((?:R|TM|C)\)", " ", override, flags=re.IGNORECASE).split()  # "Intel(R) Xeon(R)"
        return override, words[0] if words and words[0] in _VENDORS.values() else ""
    model = vendor = ""
    try:
        for line in _CPUINFO.read_text(encoding="utf-8", errors="replace").splitlines():
            name, _, value = line.partition(":")
            name = name.strip()
            if name in ("model name", "Model", "cpu model") and not model:
                model = value.strip()
            elif name == "vendor_id" and not vendor:
                vendor = _VENDORS.get(value.strip(), value.strip())
    except OSError:
        pass
    return model or platform.processor() or platform.machine() or "unknown CPU", vendor


def _memtotal() -> int:
    try:
        for line in _MEMINFO.read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024  # /proc/meminfo counts KiB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError, AttributeError):
        return 0


def llc_bytes() -> int:
    """The highest-level cache sysfs lists for cpu0, e.g. "307200K" -> 314572800; 0 when unknown."""
    best_level, size = -1, 0
    for index in sorted(_LLC.glob("index*")):
        try:
            level = int((index / "level").read_text().strip())
            text = (index / "size").read_text().strip()
            value = int(text[:-1]) * _SIZE_SUFFIX[text[-1]] if text[-1] in _SIZE_SUFFIX else int(text)
        except (OSError, ValueError, IndexError):
            continue
        if level > best_level:
            best_level, size = level, value
    return size


def _nvidia_driver() -> str:
    """The driver version from nvidia-smi (torch does not expose it); "" when nvidia-smi is absent."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return ""
    try:
        out = subprocess.run(
            [exe, "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else ""


def describe_host(device: str = "cpu", threads: int = 1) -> HostInfo:
    """Facts about this machine for measurements on `device` ("cpu" or "cuda") with `threads` CPU threads."""
    import torch

    model, vendor = _cpuinfo()
    gpu: dict[str, Any] = {}
    if device == "cuda" and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        gpu = {
            "gpu_name": props.name,
            "gpu_count": torch.cuda.device_count(),
            "gpu_memory_bytes": int(props.total_memory),
            "gpu_l2_bytes": int(getattr(props, "L2_cache_size", 0) or 0),
            "driver": _nvidia_driver(),
            "cuda_version": torch.version.cuda or "",
        }
    return HostInfo(
        device=device,
        cpu_model=model,
        cpu_vendor=vendor,
        cpu_count=os.cpu_count() or 1,
        threads=threads,
        memory_bytes=_memtotal(),
        llc_bytes=llc_bytes(),
        torch_version=torch.__version__,
        python_version=platform.python_version(),
        platform=platform.platform(),
        measured_at=datetime.now(UTC).isoformat(timespec="seconds"),
        **gpu,
    )


@contextlib.contextmanager
def pinned_threads(threads: int) -> Iterator[None]:
    """Torch's intra-op threads set to `threads` and the process pinned to that many CPUs (the first
    of those it may use), both restored on exit.

    Why pin: on the project's 2-vCPU VM an unpinned one-thread measurement of the same decode step
    came out at 2.6 ms or 4.7 ms from one process to the next (the time outside the ops quadrupled),
    while six runs pinned to either CPU all gave 2.5-2.8 ms. Without sched_setaffinity (not Linux)
    only the thread count is set.
    """
    import torch

    before_threads = torch.get_num_threads()
    before_cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    torch.set_num_threads(threads)
    if before_cpus is not None and len(before_cpus) > threads:
        os.sched_setaffinity(0, set(sorted(before_cpus)[:threads]))
    try:
        yield
    finally:
        torch.set_num_threads(before_threads)
        if before_cpus is not None:
            os.sched_setaffinity(0, before_cpus)
