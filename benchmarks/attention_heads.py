"""One-query attention on one CPU thread: time against heads and head size at equal FLOPs.

    python benchmarks/attention_heads.py

Times the fused CPU flash kernel (aten._scaled_dot_product_flash_attention_for_cpu) on one query per
sequence against a KV cache, operands resident (called back to back), for batch x heads slices of
16 to 64, 96 keys and head sizes 32 and 64 (least of 5 runs of 200 calls each). Why: at equal FLOPs
and bytes, twice the heads at half the head size costs more when one thread runs the heads one
after another, which is what `attention_size: head` in a CPU calibration says (FINDINGS.md,
hwsim.cost.calibration).
"""

from __future__ import annotations

import time

import torch

SLICES = (16, 32, 64)  # batch x heads (batch 2)
KEYS = 96
HEAD_SIZES = (32, 64)


def seconds_per_call(fn, calls: int = 200, runs: int = 5) -> float:  # noqa: ANN001
    for _ in range(20):
        fn()
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def main() -> None:
    torch.set_num_threads(1)
    op = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
    print(f"{KEYS} keys, one query per sequence, fp32, 1 thread")
    print("| batch x heads | head size | FLOP | time | per slice |")
    print("|---:|---:|---:|---:|---:|")
    for slices in SLICES:
        for d in HEAD_SIZES:
            q = torch.randn(2, slices // 2, 1, d)
            k, v = torch.randn(2, slices // 2, KEYS, d), torch.randn(2, slices // 2, KEYS, d)
            t = seconds_per_call(lambda q=q, k=k, v=v: op(q, k, v, 0.0, False))
            flop = 4 * slices * KEYS * d
            print(f"| {slices} | {d} | {flop / 1e3:.0f} k | {t * 1e6:.1f} us | {t / slices * 1e6:.2f} us |")


if __name__ == "__main__":
    main()
