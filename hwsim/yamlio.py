"""Read hwsim YAML files: safe loading, the `schema:` line, `extends:` inheritance and typed field access.

Every hwsim YAML file (hardware, workload, calibration) starts with `schema: hwsim.<kind>/1`, may
`extends:` one parent of the same kind by file stem or path (maps merge key by key, lists and scalars
replace), and contains no expressions or tags. `FieldReader` reads a mapping key by key, converting
quantities through hwsim.units and collecting every problem (wrong type, missing key, unknown key with
a "did you mean") so a file's problems are all reported at once. The top-level `schema` key is
checked by read_yaml and is never reported as unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from hwsim.errors import InputError, Problems, did_you_mean, shown
from hwsim.limits import count_range, float_problem
from hwsim.units import QuantityError, describe, parse_quantity

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "FieldReader",
    "display_path",
    "load_with_extends",
    "merge",
    "parse_yaml_text",
    "path_exists",
    "path_is_file",
    "read_yaml",
]

# The deepest nesting and the most values (aliases expanded) a hwsim YAML document may hold. The
# deepest shipped file nests 5 levels and the largest holds a few thousand values; the bounds stop a
# hostile or broken document before PyYAML's recursive composer overflows the stack (about 300
# levels) or an alias bomb expands into the machine's memory.
MAX_DEPTH = 64
MAX_NODES = 1_000_000


def path_is_file(path: Path) -> bool:
    """Path.is_file() that is False, not OSError, for a name the file system refuses (too long)."""
    try:
        return path.is_file()
    except OSError:
        return False


def path_exists(path: Path) -> bool:
    """Path.exists() that is False, not OSError, for a name the file system refuses (too long)."""
    try:
        return path.exists()
    except OSError:
        return False


def display_path(path: Path) -> str:
    """The path as the user should see it: relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class _DocumentError(Exception):
    """A structural problem found while composing: (line, expected, got)."""

    def __init__(self, line: int, expected: str, got: str) -> None:
        super().__init__(expected)
        self.line, self.expected, self.got = line, expected, got


class _StrictLoader(yaml.SafeLoader):
    """yaml.SafeLoader that bounds nesting depth and refuses a key given twice in one mapping
    (PyYAML keeps the last silently, so a typo'd override would win unseen)."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise _DocumentError(mark.line + 1, f"nesting at most {MAX_DEPTH} levels deep", "deeper")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: the base class reports it
                continue
            if first is not None:
                expected = f"each key once in a mapping ({shown(key)} is first on line {first})"
                raise _DocumentError(line, expected, f"{shown(key)} again")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _count_nodes(data: Any) -> int:
    """Values in `data` with aliases expanded, counted without recursion and stopping past MAX_NODES."""
    count, stack = 0, [data]
    while stack and count <= MAX_NODES:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def parse_yaml_text(text: str, where: str) -> Any:
    """The document in `text` (None when empty), parsed safely; InputError naming `where` and the
    line for invalid YAML, a key given twice, nesting deeper than MAX_DEPTH or more than MAX_NODES values."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except _DocumentError as exc:
        raise InputError.one(where, f"line {exc.line}", exc.expected, exc.got) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f"line {mark.line + 1}" if mark is not None else ""
        raise InputError.one(
            where, line, "valid YAML", shown(str(exc.problem)), "check indentation and quoting"
        ) from None
    except yaml.YAMLError as exc:
        raise InputError.one(where, "", "valid YAML", shown(str(exc))) from None
    except RecursionError:
        raise InputError.one(where, "", f"nesting at most {MAX_DEPTH} levels deep", "deeper") from None
    if _count_nodes(data) > MAX_NODES:
        raise InputError.one(where, "", f"at most {MAX_NODES:,} values (aliases expanded)", "more")
    return data


def read_yaml(path: Path, schema: str) -> dict[str, Any]:
    """Load one YAML file that must be a mapping whose `schema:` is `schema` (e.g. "hwsim.device/1")."""
    where = display_path(path)
    try:
        is_dir, exists = path.is_dir(), path.exists()
    except OSError as exc:  # e.g. a name too long for the file system
        raise InputError.one(where, "", "an existing file", exc.strerror or type(exc).__name__) from None
    if is_dir:
        raise InputError.one(where, "", "a YAML file", "a directory")
    if not exists:
        raise InputError.one(where, "", "an existing file", "no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError.one(where, "", "a readable UTF-8 text file", type(exc).__name__) from None
    data = parse_yaml_text(text, where)
    if data is None:
        raise InputError.one(where, "", f'a YAML mapping starting with "schema: {schema}"', "an empty file")
    if not isinstance(data, dict):
        raise InputError.one(where, "", f'a YAML mapping starting with "schema: {schema}"', shown(data))
    got = data.get("schema")
    if got != schema:
        hint = "add the schema line at the top" if got is None else "this file is of another kind"
        raise InputError.one(where, "schema", f'"{schema}"', shown(got), hint)
    return data


def merge(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """Child over parent: mappings merge key by key (recursively), lists and scalars replace."""
    out = dict(parent)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def load_with_extends(path: Path, schema: str, find: Callable[[str, Path], Path]) -> dict[str, Any]:
    """Load `path` and the chain of files it `extends:`, merged parent first.

    `find(reference, from_path)` turns an `extends:` value (a stem or a path) into a file path. The
    merged mapping keeps the child's `extends` removed and a list of the files it came from under
    the private key `_chain`.
    """
    chain: list[Path] = []
    layers: list[dict[str, Any]] = []
    current = path
    while True:
        resolved = current.resolve()
        if resolved in chain:
            names = " -> ".join(p.stem for p in [*chain, resolved])
            raise InputError.one(display_path(path), "extends", "a chain of parents without a cycle", names)
        chain.append(resolved)
        data = read_yaml(current, schema)
        layers.append(data)
        parent = data.get("extends")
        if parent is None:
            break
        if not isinstance(parent, str) or not parent:
            raise InputError.one(
                display_path(current), "extends", "the stem or path of one parent file", shown(parent)
            )
        found = find(parent, current)
        if not path_is_file(found):
            raise InputError.one(
                display_path(current),
                "extends",
                "the stem or path of an existing parent file",
                shown(parent),
                f"no such file: {display_path(found)}",
            )
        current = found
    merged: dict[str, Any] = {}
    for layer in reversed(layers):
        merged = merge(merged, layer)
    merged.pop("extends", None)
    merged["_chain"] = [str(p) for p in chain]
    return merged


class FieldReader:
    """Typed, key-by-key access to one mapping of a YAML file, collecting problems instead of raising.

    Each getter records the key as known; `finish()` reports every key never asked for as unknown,
    with the closest known key as a hint. Keys starting with "_" are hwsim's own and never unknown.
    """

    def __init__(self, data: Any, problems: Problems, prefix: str = "") -> None:
        self.problems = problems
        self.prefix = prefix
        self.known: set[str] = set()
        if data is not None and not isinstance(data, dict):
            problems.add(prefix.rstrip("."), "a mapping of keys to values", shown(data))
            data = {}
        self.data: dict[str, Any] = data or {}

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def has(self, name: str) -> bool:
        self.known.add(name)
        return name in self.data

    def _get(self, name: str, required: bool, what: str) -> Any:
        self.known.add(name)
        if name not in self.data or self.data[name] is None:
            if required:
                self.problems.add(self.key(name), what, "nothing", "this key is required")
            return None
        return self.data[name]

    def quantity(self, name: str, kind: str, *, required: bool = True, positive: bool = True) -> float | None:
        """A quantity of `kind`, above zero (`positive`) or at least zero (an overhead); never negative."""
        value = self._get(name, required, describe(kind))
        if value is None:
            return None
        try:
            result = parse_quantity(value, kind)
        except QuantityError as exc:
            self.problems.add(self.key(name), exc.expected, exc.got, exc.hint)
            return None
        if result < 0 or (positive and result == 0):
            sign = "positive" if positive else "non-negative"
            what = f"a {sign} " + describe(kind).removeprefix("a ")  # 'a positive size in bytes like "80 GiB"'
            self.problems.add(self.key(name), what, shown(value), "it must be above zero" if positive else "")
            return None
        return result

    def integer(
        self,
        name: str,
        *,
        required: bool = True,
        minimum: int | None = None,
        maximum: int | None = None,
        default: int | None = None,
    ) -> int | None:
        """A whole number within `minimum`..`maximum`, by default the range hwsim.limits gives `name`."""
        limits = count_range(name)
        low = limits.low if minimum is None else minimum
        high = limits.high if maximum is None else maximum
        what = f"a whole number from {low:,} to {high:,}"
        value = self._get(name, required and default is None, what)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            hint = limits.why if isinstance(value, int) and value > high else ""
            self.problems.add(self.key(name), what, shown(value), hint)
            return default
        return value

    def number(
        self,
        name: str,
        *,
        required: bool = True,
        low: float = 0.0,
        high: float = float("inf"),
        default: float | None = None,
    ) -> float | None:
        what = f"a number between {low:g} and {high:g}" if high != float("inf") else f"a number >= {low:g}"
        value = self._get(name, required and default is None, what)
        if value is None:
            return default
        number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        try:
            problem = "" if number is None else float_problem(float(number))
        except OverflowError:  # an integer past the largest float
            problem = "the value is not finite"
        if number is None or problem or not low <= number <= high:
            hint = "a bare number, no unit" if isinstance(value, str) else problem
            self.problems.add(self.key(name), what, shown(value), hint)
            return default
        return float(number)

    def string(
        self,
        name: str,
        *,
        required: bool = True,
        choices: tuple[str, ...] | None = None,
        default: str | None = None,
    ) -> str | None:
        what = "one of " + ", ".join(choices) if choices else "a text value"
        value = self._get(name, required and default is None, what)
        if value is None:
            return default
        if not isinstance(value, str) or not value:
            self.problems.add(self.key(name), what, shown(value))
            return default
        if choices is not None and value not in choices:
            self.problems.add(self.key(name), what, shown(value), did_you_mean(value, choices))
            return default
        return value

    def boolean(self, name: str, *, default: bool) -> bool:
        value = self._get(name, False, "true or false")
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problems.add(self.key(name), "true or false", shown(value))
            return default
        return value

    def strings(self, name: str, *, required: bool = True) -> tuple[str, ...]:
        value = self._get(name, required, "a list of text values")
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.problems.add(self.key(name), "a list of text values", shown(value))
            return ()
        return tuple(value)

    def mapping(self, name: str, *, required: bool = True) -> FieldReader:
        value = self._get(name, required, "a mapping of keys to values")
        return FieldReader(value, self.problems, prefix=self.key(name) + ".")

    def items(self) -> Iterator[tuple[str, Any]]:
        """Every key of a free-form mapping (e.g. dtype -> rate); marks them all known."""
        for name, value in self.data.items():
            self.known.add(str(name))
            yield str(name), value

    def finish(self) -> None:
        allowed = self.known
        for name in self.data:
            name = str(name)
            if name.startswith("_") or name in allowed or (name == "schema" and not self.prefix):
                continue
            self.problems.add(self.key(name), "a known key", shown(name), did_you_mean(name, allowed))
