"""hwsim.calibrate.device: host facts, device stems, and choosing the torch device."""

from __future__ import annotations

from dataclasses import replace

import torch

from hwsim.calibrate.device import HostInfo, describe_host, host_stem, resolve_device, slugify


def test_slugify_product_names() -> None:
    assert slugify("Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz") == "intel_xeon_gold_6338"
    assert slugify("AMD EPYC 7763 64-Core Processor") == "amd_epyc_7763_64_core"
    assert slugify("NVIDIA H200") == "nvidia_h200"
    assert slugify("CPU") == "cpu"
    assert slugify("") == "host"


def test_describe_host_and_stem() -> None:
    host = describe_host("cpu", threads=3)
    assert host.device == "cpu" and host.threads == 3 and host.cpu_count >= 1
    assert host.torch_version == torch.__version__ and host.cpu_model
    assert host.gpu_name == "" and host.measured_at
    assert host_stem(host).endswith("_3t")
    assert HostInfo.from_json(host.to_json()) == host


def test_gpu_stem_is_the_gpu_name() -> None:
    host = replace(describe_host("cpu"), device="cuda", gpu_name="NVIDIA H200")
    assert host_stem(host) == "nvidia_h200"


def test_same_host_names_what_differs() -> None:
    host = describe_host("cpu", threads=1)
    assert host.same_host(replace(host, measured_at="earlier")) == []
    assert host.same_host(replace(host, threads=2)) == ["threads 2 (now 1)"]


def test_resolve_cpu() -> None:
    assert resolve_device("cpu") == "cpu"


def test_pinned_threads_pins_and_restores() -> None:
    import os

    import torch

    from hwsim.calibrate.device import pinned_threads

    cpus, threads = os.sched_getaffinity(0), torch.get_num_threads()
    with pinned_threads(1):
        assert torch.get_num_threads() == 1
        assert os.sched_getaffinity(0) == {min(cpus)}
    assert os.sched_getaffinity(0) == cpus and torch.get_num_threads() == threads
