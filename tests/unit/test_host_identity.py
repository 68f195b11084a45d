"""HWSIM_CPU_MODEL: the host's CPU model string can be replaced, and every name made from it follows
(hwsim.calibrate.device). The suite is meant to pass with it set to any name, e.g.
HWSIM_CPU_MODEL="AMD EPYC 7B13 64-Core Processor", "AAA Test CPU" or "zzz"."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwsim.calibrate.device import CPU_MODEL_ENV, describe_host, host_stem
from hwsim.calibrate.results import check_host
from hwsim.errors import InputError


@pytest.mark.parametrize(
    ("model", "vendor", "stem"),
    [
        ("AMD EPYC 7B13 64-Core Processor", "AMD", "amd_epyc_7b13_64_core_2t"),
        ("Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", "Intel", "intel_xeon_gold_6338_2t"),
        ("  AAA Test CPU ", "", "aaa_test_2t"),
        ("zzz", "", "zzz_2t"),
    ],
)
def test_the_override_names_the_host(
    monkeypatch: pytest.MonkeyPatch, model: str, vendor: str, stem: str
) -> None:
    monkeypatch.setenv(CPU_MODEL_ENV, model)
    host = describe_host("cpu", threads=2)
    assert (host.cpu_model, host.cpu_vendor, host_stem(host)) == (model.strip(), vendor, stem)


def test_an_empty_override_reads_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CPU_MODEL_ENV, raising=False)
    real = describe_host("cpu")
    monkeypatch.setenv(CPU_MODEL_ENV, "  ")
    again = describe_host("cpu")
    assert (again.cpu_model, again.cpu_vendor) == (real.cpu_model, real.cpu_vendor)
    assert real.cpu_model  # /proc/cpuinfo, else the platform's name, else "unknown CPU": never empty


def test_measurements_of_one_named_host_are_not_resumed_as_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CPU_MODEL_ENV, "AAA Test CPU")
    check_host(tmp_path, describe_host("cpu"))
    assert '"cpu_model": "AAA Test CPU"' in (tmp_path / "host.json").read_text()
    monkeypatch.setenv(CPU_MODEL_ENV, "zzz")
    with pytest.raises(InputError, match=r"cpu_model 'AAA Test CPU' \(now 'zzz'\)"):
        check_host(tmp_path, describe_host("cpu"))
