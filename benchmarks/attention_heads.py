"""Attention on one CPU thread: heads against head size at equal FLOPs, and hot against cold operands.

    python benchmarks/attention_heads.py

1. Times the fused CPU flash kernel (aten._scaled_dot_product_flash_attention_for_cpu) on one query
   per sequence against a KV cache, operands resident (called back to back), for batch x heads
   slices of 16 to 64, 96 keys and head sizes 32 and 64 (least of 5 runs of 200 calls each). Why:
   at equal FLOPs and bytes, twice the heads at half the head size costs more when one thread runs
   the heads one after another, which is what `attention_size: head` in a CPU calibration says
   (FINDINGS.md, hwsim.cost.calibration).
2. Times causal forward attention at three of the validated models' shapes with one set of
   operands called back to back (as the calibration times it) and with 64 sets cycled (26-45 MiB,
   about what one process keeps of this host's shared L3): how much slower an op is whose operands
   a step has left in the L3 rather than the L2 (FINDINGS.md: every attention op is estimated too
   fast in the validated steps).
"""

from __future__ import annotations

import itertools
import time

import torch

SLICES = (16, 32, 64)  # batch x heads (batch 2)
CAUSAL_SHAPES = ((2, 4, 120, 64), (2, 8, 104, 32), (2, 4, 80, 56))  # [batch, heads, tokens, head size]
CYCLED_SETS = 64
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
    print("\ncausal forward, q, k, v as a model hands them over ([b, s, h, d] memory)")
    print("| shape | one set | sets cycled | time, one set | time, cycled | cycled / one |")
    print("|---|---:|---:|---:|---:|---:|")
    for b, h, s, d in CAUSAL_SHAPES:

        def operands(b=b, h=h, s=s, d=d) -> list[torch.Tensor]:
            return [torch.randn(b, s, h, d).transpose(1, 2) for _ in range(3)]

        one, sets = operands(), [operands() for _ in range(CYCLED_SETS)]
        turn = itertools.cycle(sets)
        hot = seconds_per_call(lambda one=one: op(*one, 0.0, True), calls=30, runs=7)
        cold = seconds_per_call(lambda turn=turn: op(*next(turn), 0.0, True), calls=30, runs=7)
        size = 3 * b * h * s * d * 4
        print(f"| {b}x{h}x{s}x{d} | {size / 2**10:.0f} KiB | {CYCLED_SETS * size / 2**20:.0f} MiB "
              f"| {hot * 1e6:.0f} us | {cold * 1e6:.0f} us | {cold / hot:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
