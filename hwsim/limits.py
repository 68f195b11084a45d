"""The valid range of every number hwsim reads from a file or the command line, stated in one place.

Floats (quantities with units and bare numbers alike) must be finite and normal: NaN and infinity
are no measurement, and a subnormal such as 5e-324 is not one either (dividing a byte count by a
subnormal bandwidth overflows to infinity, and an estimate built on it turns NaN). Where a key is a
size, rate or time it must also be above zero; overheads may be zero, never negative.

Integer counts have a lower bound (1 unless a key says 0) and an upper bound that protects the
machine: hwsim traces three blocks and replicates them, but every replicated block still costs
memory (about 66 KiB per Llama block of the estimate's op records, measured with `/usr/bin/time`
on `hwsim estimate llama3-8b-train --set model.layers=4000`: 576 MB peak against 379 MB at 1000
layers), so `model.layers: 1000000` would fill the machine before tracing finished. Each bound
leaves wide headroom over the largest published model it covers (Llama 3.1 405B: 126 layers,
hidden 16,384, 128 heads, vocabulary 128,256; DeepSeek-V3: 256 experts, top 8; contexts of 10M
tokens) and is checked before anything is traced.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "COUNT_LIMITS",
    "MAX_COUNT",
    "MAX_TOKENS_PER_STEP",
    "MIN_NORMAL",
    "CountRange",
    "count_range",
    "float_problem",
]

MIN_NORMAL = sys.float_info.min  # 2.2e-308: the least positive normal double
MAX_COUNT = 2**31 - 1  # any count without a bound of its own (devices, threads, repetitions)


@dataclass(frozen=True, slots=True)
class CountRange:
    """The whole numbers a count key admits, and why its upper bound is what it is."""

    low: int
    high: int
    why: str = ""

    def expected(self) -> str:
        return f"a whole number from {self.low:,} to {self.high:,}"


# Model and task counts by key name (workload files' model: and task: sections).
COUNT_LIMITS: Mapping[str, CountRange] = {
    "layers": CountRange(1, 4096, "each block is replicated into the trace (~66 KiB of records each)"),
    "hidden": CountRange(1, 2**17, "8x the widest published model (16,384)"),
    "heads": CountRange(1, 2**12, "32x the most heads published (128)"),
    "kv_heads": CountRange(1, 2**12, "at most heads"),
    "ffn_hidden": CountRange(1, 2**19, "8x the widest published FFN (65,536)"),
    "vocab": CountRange(1, 2**22, "16x the largest published vocabulary (256,000)"),
    "seq_len": CountRange(1, 2**24, "1.6x the longest published context (10M tokens)"),
    "prompt_len": CountRange(1, 2**24, "as seq_len"),
    "context_len": CountRange(1, 2**24, "as seq_len"),
    "experts": CountRange(1, 2**12, "16x the most experts published (256); each is traced per block"),
    "top_k": CountRange(1, 2**12, "at most experts"),
    "batch": CountRange(1, 2**24, "16M sequences: 16x the largest published global batch in tokens"),
}

# batch x new tokens per sequence: keeps every activation's element count (tokens x hidden, at most
# 2^36 x 2^17 = 2^53) exactly representable and inside torch's int64 sizes.
MAX_TOKENS_PER_STEP = 2**36


def count_range(key: str) -> CountRange:
    """The range of the count `key` (its last dotted part), or 1..MAX_COUNT for any other count."""
    return COUNT_LIMITS.get(key.rsplit(".", 1)[-1], CountRange(1, MAX_COUNT))


def float_problem(value: float) -> str:
    """Why `value` is no usable number ("" when it is one): not finite, or subnormal."""
    if not math.isfinite(value):
        return "the value is not finite"
    if value != 0 and abs(value) < MIN_NORMAL:
        return f"the value is below the least normal float ({MIN_NORMAL:.3g})"
    return ""
