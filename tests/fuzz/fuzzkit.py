"""Shared pieces of the property-based fuzz tests: shipped files as seeds, value strategies, mutations.

The property every loader test checks: a generated document either loads, or raises hwsim's own
error (hwsim.errors.HwsimError); no other exception escapes. What loads must hold only finite,
non-negative numbers of sane size (`check_numbers`).

The seeds are the project's own files (hardware_configs/, workloads/), read when the tests are
collected. Runs are reproducible: `derandomize=True` and no example database.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st

from hwsim.errors import HwsimError
from hwsim.units import _TABLE

REPO = Path(__file__).resolve().parents[2]
CATALOGUE = REPO / "hardware_configs"
WORKLOADS = REPO / "workloads"

INT64 = 2**63


def fuzz_settings(max_examples: int) -> settings:
    """Reproducible, database-less settings with no deadline (the first call imports and caches)."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def seeds(*folders: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """(stem, text, parsed mapping) of every YAML file in `folders`, sorted, read at collection time."""
    out = []
    for folder in folders:
        for path in sorted(folder.glob("*.yaml")):
            text = path.read_text(encoding="utf-8")
            out.append((path.stem, text, yaml.safe_load(text)))
    assert out, f"no seed files found in {folders}"
    return out


# ---------------------------------------------------------------- values


UNITS = sorted(
    {
        *(u for units in _TABLE.values() for u in units),
        "", "b", "Gb", "KB", "kb", "tflop/s", "Tflops", "GB/S", "Kib", "%", "x", "us/s", "s/s", "B/s/s",
        "GiB ", " GB", "µs", "μs", "MB/s extra", "TFLOP / s", "nan", "inf",
    }
)  # fmt: skip

NUMBER_TEXT = st.one_of(
    st.sampled_from(
        ["0", "-0", "-1", "1", "0.0", "-0.0", ".5", "5.", "1e309", "-1e309", "1e-400", "5e-324", "4.9e-324",
         "2.2250738585072014e-308", "1e308", "1.7976931348623157e308", "9" * 400, "1" + "0" * 400,
         "nan", "NaN", "inf", "-inf", "Infinity", "1_000", "0x10", "1,5", "+3", "--3", "1e", "e5",
         "٣", "１", "0" * 400 + "1"]  # fmt: skip
    ),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: f"{f:e}"),
)

UNIT_STRING = st.builds(
    lambda n, sep, u: f"{n}{sep}{u}", NUMBER_TEXT, st.sampled_from(["", " ", "  ", "\t", " \u00a0"]),
    st.sampled_from(UNITS),
)

SAFE_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=24)

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([0, -1, 1, 2**31, 2**63, 2**64 + 1, 10**400, -(10**400)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([float("nan"), float("inf"), float("-inf"), 5e-324, -5e-324, 1e308, -0.0, 2.0**-1074]),
    SAFE_TEXT,
    UNIT_STRING,
)

KEYS = st.one_of(SAFE_TEXT, st.integers(min_value=-3, max_value=3), st.booleans(), st.none(),
                 st.sampled_from(["default", "schema", "extends", "sources", "_chain", "bf16", "fp32",
                                  "curve", "best", "bandwidth", "size", "count", "layers"]))  # fmt: skip

VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=8,
)

MISSING_REFS = st.one_of(
    st.sampled_from(
        ["zz_missing", "zz_missing.yaml", "zz_missing.yml", "./zz_missing", "../zz_missing", "zz/missing",
         "/nonexistent/zz_missing.yaml", "/nonexistent/zz_missing", "zz_missing/", "zz_*", "zz_[", "zz_**",
         "**", "*", "**/zz_missing", "?", "[a-z]*", "zz_" + "x" * 300, "zz_missing\x00x", " zz_missing", "zz_missing ", "zz_missing.json"]
    ),
    st.text(alphabet="abcxyz_-.*/[]?~ ", min_size=1, max_size=12).map(lambda s: "zz_" + s),
)  # fmt: skip


# ---------------------------------------------------------------- mutations


def _nodes(doc: Any, path: tuple = ()) -> list[tuple]:
    """Every path (a tuple of keys / indices) into `doc`, the root first."""
    out = [path]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _nodes(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _nodes(v, (*path, i))
    return out


def _get(doc: Any, path: tuple) -> Any:
    for part in path:
        doc = doc[part]
    return doc


_QUANTITY = re.compile(r"^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*(\S.*?)\s*$")


def _is_number_like(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, (int, float)) or (isinstance(value, str) and _QUANTITY.match(value) is not None)


@st.composite
def mutated(
    draw: st.DrawFn, doc: dict[str, Any], *, max_mutations: int = 3, ops: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """A deep copy of `doc` with 1..max_mutations random edits: replace, delete, add, renumber, wrap.

    `ops=("renumber",)` only changes numbers (the number of a unit string, or a bare number), which
    keeps most documents loadable: the numeric contract is checked on what loads.
    """
    doc = json.loads(json.dumps(doc, default=str))  # deep copy; seeds hold only JSON-able values
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, max_mutations]))):
        paths = _nodes(doc)
        if ops == ("renumber",):
            paths = [p for p in paths if p and _is_number_like(_get(doc, p))] or paths
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(ops or ["replace", "replace", "delete", "add", "renumber", "renumber", "wrap"]))
        if not path:  # the root: add a key, or replace the whole document
            if op == "replace" and draw(st.integers(0, 9)) == 0:
                return draw(VALUES)
            op = "add"
        if op == "add":
            target = _get(doc, path)
            if isinstance(target, dict):
                target[draw(KEYS)] = draw(VALUES)
            elif isinstance(target, list):
                target.insert(draw(st.integers(0, len(target))), draw(VALUES))
            else:
                op = "replace"
        if not path:
            continue
        parent, last = _get(doc, path[:-1]), path[-1]
        if op == "delete":
            del parent[last]
        elif op == "replace":
            parent[last] = draw(VALUES)
        elif op == "renumber":
            old = parent[last]
            match = _QUANTITY.match(old) if isinstance(old, str) else None
            if match is not None:
                parent[last] = draw(NUMBER_TEXT) + " " + match.group(1)
            elif isinstance(old, (int, float)) and not isinstance(old, bool):
                parent[last] = draw(st.one_of(st.integers(), st.floats(), st.sampled_from([0, -1, 10**400])))
            else:
                parent[last] = draw(UNIT_STRING)
        elif op == "wrap":  # moderately nested structure in place of a value
            depth = draw(st.integers(1, 60))
            inner: Any = parent[last]
            for i in range(depth):
                inner = [inner] if draw(st.booleans()) else {draw(st.sampled_from(["a", "default", "0"])): inner}
            parent[last] = inner
    return doc


def dump(doc: Any) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=10**6)


@st.composite
def with_duplicate_key(draw: st.DrawFn, doc: dict[str, Any]) -> str:
    """YAML text of `doc` in which one mapping (top level or nested) repeats one of its keys."""
    doc = json.loads(json.dumps(doc, default=str))
    mappings = [p for p in _nodes(doc) if isinstance(_get(doc, p), dict) and _get(doc, p)]
    target = _get(doc, draw(st.sampled_from(mappings)))
    key = draw(st.sampled_from(sorted(k for k in target if isinstance(k, str))))
    value = target[key] if draw(st.booleans()) else draw(VALUES)
    sentinel = "ZZDUPLICATEKEYZZ"
    items = list(target.items())
    target.clear()
    position = draw(st.integers(0, len(items)))
    items.insert(position, (sentinel, value))
    target.update(items)
    text = dump(doc)
    assert text.count(sentinel) == 1
    return text.replace(sentinel, json.dumps(key))


# ---------------------------------------------------------------- checking


def check_numbers(obj: Any, where: str = "result", _seen: set[int] | None = None) -> None:
    """Every float in a loaded object is finite, normal (or 0) and >= 0; every int fits in 64 bits."""
    seen = _seen if _seen is not None else set()
    if id(obj) in seen or isinstance(obj, (str, bytes, Path)) or obj is None:
        return
    seen.add(id(obj))
    if isinstance(obj, bool):
        return
    if isinstance(obj, float):
        assert math.isfinite(obj), f"{where} = {obj!r} is not finite"
        assert obj >= 0, f"{where} = {obj!r} is negative"
        assert obj == 0 or obj >= sys.float_info.min, f"{where} = {obj!r} is subnormal"
        return
    if isinstance(obj, int):
        assert abs(obj) < INT64, f"{where} = {obj!r} does not fit in 64 bits"
        assert obj >= 0, f"{where} = {obj!r} is negative"
        return
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "fiu":
            assert np.isfinite(obj).all(), f"{where} holds a non-finite value: {obj!r}"
            assert (obj >= 0).all(), f"{where} holds a negative value: {obj!r}"
        return
    if isinstance(obj, np.generic):
        check_numbers(obj.item(), where, seen)
        return
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            check_numbers(getattr(obj, f.name), f"{where}.{f.name}", seen)
        return
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            check_numbers(v, f"{where}[{k!r}]", seen)
        return
    if isinstance(obj, (list, tuple, set, frozenset)):
        for i, v in enumerate(obj):
            check_numbers(v, f"{where}[{i}]", seen)
        return
    if hasattr(obj, "__slots__") or hasattr(obj, "__dict__"):  # other value objects (curves)
        names = list(getattr(obj, "__dict__", {}))
        for cls in type(obj).__mro__:
            slots = cls.__dict__.get("__slots__", ())
            names += [slots] if isinstance(slots, str) else list(slots)
        for name in names:
            if not name.startswith("__") and hasattr(obj, name):
                check_numbers(getattr(obj, name), f"{where}.{name}", seen)


def loads_or_input_error(load, text: str, relpath: str, *, extra: dict[str, str] | None = None):
    """Write `text` to a fresh temporary tree at `relpath` (plus `extra` files), call `load(path)`.

    Returns the loaded object, or None when hwsim raised its own error. Any other exception
    propagates: that is the failure the fuzz tests look for.
    """
    with tempfile.TemporaryDirectory(prefix="hwsim-fuzz-") as tmp:
        root = Path(tmp) / "root"
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        for name, body in (extra or {}).items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(body, encoding="utf-8")
        try:
            result = load(path)
        except HwsimError:
            event("refused with hwsim's error")
            return None
        event("loaded")
        return result


def must_refuse(load, text: str, relpath: str) -> None:
    """`load` must raise hwsim's own error for this text (it is invalid by construction)."""
    result = loads_or_input_error(load, text, relpath)
    assert result is None, f"accepted an invalid document:\n{text[:2000]}"


def deep_texts(schema: str, keys: list[str]) -> st.SearchStrategy[str]:
    """A valid-looking header followed by a value nested 1000+ deep, under a known or unknown key."""

    def build(key: str, depth: int, style: str) -> str:
        if style.startswith("block"):
            depth = min(depth, 1100)  # block text grows with depth squared
        if style == "flow-list":
            value = "[" * depth + "1" + "]" * depth
        elif style == "flow-map":
            value = "{a: " * depth + "1" + "}" * depth
        elif style == "block-list":
            return f"schema: {schema}\n{key}:\n" + "".join("  " * i + "-\n" for i in range(depth)) + "  " * depth + "1\n"
        else:  # block-map
            return f"schema: {schema}\n{key}:\n" + "".join("  " * (i + 1) + "a:\n" for i in range(depth)) + "  " * (depth + 1) + "1\n"
        return f"schema: {schema}\n{key}: {value}\n"

    return st.builds(
        build,
        st.sampled_from([*keys, "zz_unknown"]),
        st.sampled_from([1000, 1500, 3000, 10000, 50000]),
        st.sampled_from(["flow-list", "flow-map", "block-list", "block-map"]),
    )


def _bomb(levels: int) -> str:
    """A flow list whose aliases expand to 9**levels values (a 'billion laughs' when levels >= 9)."""
    parts = ["&a0 [x, x, x, x, x, x, x, x, x]"]
    parts += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    return "[" + ", ".join(parts) + "]"


ALIAS_VALUES = st.sampled_from(
    ["&r [*r]", "&r {a: *r}", "&r {default: *r, best: 0.5}", "&r [[*r, 1], 2]", "&r {x: [*r]}",
     _bomb(2), _bomb(5), _bomb(7), _bomb(9), _bomb(12), "&s 5 us", "[&s 1 GB/s, *s]"]
)  # fmt: skip


@st.composite
def with_alias(draw: st.DrawFn, doc: dict[str, Any]) -> str:
    """YAML text of `doc` with one value (anywhere) replaced by a recursive alias or an alias bomb."""
    doc = json.loads(json.dumps(doc, default=str))
    path = draw(st.sampled_from([p for p in _nodes(doc) if p]))
    sentinel = "ZZALIASZZ"
    _get(doc, path[:-1])[path[-1]] = sentinel
    return dump(doc).replace(sentinel, draw(ALIAS_VALUES))
