"""Load hardware descriptions (devices, nodes, clusters) from YAML files or catalogue names into a System.

A reference is a catalogue stem ("h100_sxm", looked up in hardware_configs/devices, nodes and
clusters) or a path to a YAML file. Files start with `schema: hwsim.device/1`, `hwsim.node/1` or
`hwsim.cluster/1`, may `extends:` one parent of the same kind (by stem or relative path), and list
their own `sources:` (a child never inherits its parent's sources, nor its `abstract:` flag). A node
names its device by stem (`device: h100_sxm`), a cluster its node (`node: dgx_h100`); a stem is looked
up beside the referring file, then in the sibling folder of that kind (../devices/), then in the
catalogue. Every problem of a file is collected before an InputError is raised.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from hwsim.errors import InputError, Problems, shown
from hwsim.hardware.parse import read_device, read_level, read_scale_out, read_sources
from hwsim.hardware.spec import Cluster, Device, Node, System
from hwsim.resources import catalogue_dir, find_by_stem
from hwsim.yamlio import (
    FieldReader,
    display_path,
    load_with_extends,
    parse_yaml_text,
    path_exists,
    path_is_file,
    read_yaml,
)

__all__ = [
    "KINDS",
    "SCHEMAS",
    "CatalogueEntry",
    "check_file",
    "find_reference",
    "hardware_kind",
    "list_catalogue",
    "load_cluster",
    "load_device",
    "load_merged",
    "load_node",
    "load_system",
    "locate",
]

KINDS: tuple[str, ...] = ("device", "node", "cluster")
SCHEMAS: dict[str, str] = {kind: f"hwsim.{kind}/1" for kind in KINDS}
FOLDERS: dict[str, str] = {"device": "devices", "node": "nodes", "cluster": "clusters"}
_ANY_SCHEMA = '"hwsim.device/1", "hwsim.node/1" or "hwsim.cluster/1"'


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogueEntry:
    """One file of the shipped catalogue: its stem, its kind (device, node, cluster) and its path."""

    name: str
    kind: str
    path: Path


def list_catalogue() -> tuple[CatalogueEntry, ...]:
    """Every device, node and cluster file in the catalogue, by kind then name (files are not loaded)."""
    root = catalogue_dir()
    return tuple(
        CatalogueEntry(name=path.stem, kind=kind, path=path)
        for kind in KINDS
        for path in sorted((root / FOLDERS[kind]).glob("*.yaml"))
    )


def _stems_near(from_path: Path | None, kind: str) -> set[str]:
    folders = [catalogue_dir() / FOLDERS[kind]]
    if from_path is not None:
        folders += [from_path.parent, from_path.parent.parent / FOLDERS[kind]]
    return {p.stem for folder in folders if folder.is_dir() for p in folder.glob("*.yaml")}


def _missing_hint(ref: str, from_path: Path | None, kind: str) -> str:
    close = difflib.get_close_matches(ref, sorted(_stems_near(from_path, kind)), n=1, cutoff=0.6)
    if close:
        return f'did you mean "{close[0]}"?'
    return (
        f"no such file beside it or in the catalogue's {FOLDERS[kind]}/ (hwsim hw list shows the catalogue)"
    )


def find_reference(ref: str, from_path: Path, kind: str) -> Path | None:
    """The file that `ref` (a stem or a relative path) names, seen from the file `from_path`; None if none."""
    if ref.endswith((".yaml", ".yml")) or "/" in ref:
        path = Path(ref) if Path(ref).is_absolute() else from_path.parent / ref
        return path if path_is_file(path) else None
    for candidate in (
        from_path.parent / f"{ref}.yaml",
        from_path.parent.parent / FOLDERS[kind] / f"{ref}.yaml",
    ):
        if path_is_file(candidate):
            return candidate
    return find_by_stem(catalogue_dir() / FOLDERS[kind], ref)


def _parent_finder(kind: str) -> Callable[[str, Path], Path]:
    def find(ref: str, from_path: Path) -> Path:
        found = find_reference(ref, from_path, kind)
        if found is None:
            raise InputError.one(
                display_path(from_path),
                "extends",
                f"the stem or path of a {SCHEMAS[kind]} file",
                shown(ref),
                _missing_hint(ref, from_path, kind),
            )
        return found

    return find


def load_merged(path: Path, kind: str) -> dict[str, Any]:
    """The file at `path` merged over its `extends:` chain, with the file's own `sources` and `abstract`."""
    merged = load_with_extends(path, SCHEMAS[kind], _parent_finder(kind))
    own = read_yaml(path, SCHEMAS[kind])
    for key in ("sources", "abstract"):
        if key in own:
            merged[key] = own[key]
        else:
            merged.pop(key, None)
    return merged


def _device(path: Path) -> Device | None:
    data = load_merged(path, "device")
    problems = Problems(display_path(path))
    device = read_device(data, problems, name=path.stem, path=str(path))
    problems.raise_if_any()
    return device


def load_device(path: Path) -> Device:
    """Load a device file; an abstract template (like cpu_host) is refused: extend it and set its peaks."""
    device = _device(Path(path))
    if device is None:
        raise InputError.one(
            display_path(Path(path)),
            "abstract",
            "a device with its peak rates and memory",
            "an abstract template",
            f'write a file with "extends: {Path(path).stem}" that sets compute and memory',
        )
    return device


def _referenced(top: FieldReader, key: str, kind: str, path: Path, load: Callable[[Path], Any]) -> Any:
    ref = top.string(key)
    if ref is None:
        return None
    found = find_reference(ref, path, kind)
    if found is None:
        top.problems.add(
            key, f"the stem or path of a {SCHEMAS[kind]} file", shown(ref), _missing_hint(ref, path, kind)
        )
        return None
    try:
        return load(found)
    except InputError as exc:  # the referenced file's own problems, each naming that file
        top.problems.extend(exc.problems)
        return None


def load_node(path: Path) -> Node:
    """Load a node file and the device it names."""
    path = Path(path)
    problems = Problems(display_path(path))
    top = FieldReader(load_merged(path, "node"), problems)
    top.has("schema")
    description = top.string("description", required=False, default="")
    device: Device | None = _referenced(top, "device", "device", path, load_device)
    count = top.integer("count")
    up_hint = "the device gives no interconnect.scale_up either"
    scale_up = read_level(
        top.mapping("scale_up"),
        default_name="scale_up",
        size=count or 1,
        default_bandwidth=device.scale_up_bandwidth if device else None,
        bandwidth_hint=up_hint,
        need_bandwidth=device is not None,
    )
    scale_out = read_scale_out(top.mapping("scale_out"), count=count) if top.has("scale_out") else None
    sources = read_sources(top)
    top.finish()
    problems.raise_if_any()
    if device is None or count is None or scale_up is None:  # pragma: no cover - a reader failed silently
        raise RuntimeError(f"{path}: node read without problems but incomplete")
    return Node(
        name=path.stem,
        description=description or path.stem,
        device=device,
        count=count,
        scale_up=scale_up,
        scale_out=scale_out,
        sources=sources,
        path=str(path),
    )


def load_cluster(path: Path) -> Cluster:
    """Load a cluster file, its node and the node's device; check the levels nest and span every device."""
    path = Path(path)
    problems = Problems(display_path(path))
    top = FieldReader(load_merged(path, "cluster"), problems)
    top.has("schema")
    description = top.string("description", required=False, default="")
    node: Node | None = _referenced(top, "node", "node", path, load_node)
    node_count = top.integer("node_count")
    total = node.count * node_count if node is not None and node_count is not None else None
    raw = top.data.get("levels") if top.has("levels") else None
    if not isinstance(raw, list) or not raw:
        problems.add(
            "levels", "a non-empty list of network levels beyond the node, inner to outer", shown(raw)
        )
        raw = []
    levels = []
    for i, item in enumerate(raw):
        last = i == len(raw) - 1
        reader = FieldReader(item, problems, prefix=f"levels[{i}].")
        level = read_level(reader, default_name=f"level{i}", size=None, default_size=total if last else None)
        levels.append(level)
    sources = read_sources(top)
    top.finish()
    complete = [level for level in levels if level is not None]
    if node is not None and total is not None and complete and len(complete) == len(levels):
        inner = node.count
        for i, level in enumerate(complete):
            if level.size <= inner or level.size % inner:
                problems.add(
                    f"levels[{i}].size",
                    f"a multiple of {inner} above it (the devices one level in)",
                    str(level.size),
                    "levels go inner to outer",
                )
            inner = level.size
        if complete[-1].size != total:
            problems.add(
                f"levels[{len(levels) - 1}].size",
                f"{total} (node_count x devices per node)",
                str(complete[-1].size),
                "the outermost level reaches every device",
            )
    problems.raise_if_any()
    if node is None or node_count is None or len(complete) != len(levels):  # pragma: no cover
        raise RuntimeError(f"{path}: cluster read without problems but incomplete")
    return Cluster(
        name=path.stem,
        description=description or path.stem,
        node=node,
        node_count=node_count,
        levels=tuple(complete),
        sources=sources,
        path=str(path),
    )


def hardware_kind(path: Path) -> str:
    """ "device", "node" or "cluster", from the file's `schema:` line; InputError for anything else."""
    path = Path(path)
    where = display_path(path)
    if not path_is_file(path):
        read_yaml(path, SCHEMAS["device"])  # raises: a directory, or no such file
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        read_yaml(path, SCHEMAS["device"])  # raises, naming the reason
        raise
    data = parse_yaml_text(text, where)
    expected = f"a hardware file starting with a schema line ({_ANY_SCHEMA})"
    if data is None:
        raise InputError.one(where, "", expected, "an empty file")
    if not isinstance(data, dict):
        raise InputError.one(where, "", expected, shown(data))
    schema = data.get("schema")
    for kind, name in SCHEMAS.items():
        if schema == name:
            return kind
    hint = "add the schema line at the top" if schema is None else "this file is not a hardware description"
    raise InputError.one(where, "schema", _ANY_SCHEMA, shown(schema), hint)


def locate(ref: str | Path) -> Path:
    """The file `ref` names: a path as given, or a catalogue stem found in devices/, nodes/ or clusters/."""
    text = str(ref)
    path = Path(text)
    if isinstance(ref, Path) or path.suffix in (".yaml", ".yml") or "/" in text or path_exists(path):
        return path
    for kind in KINDS:
        found = find_by_stem(catalogue_dir() / FOLDERS[kind], text)
        if found is not None:
            return found
    stems = [entry.name for entry in list_catalogue()]
    close = difflib.get_close_matches(text, stems, n=1, cutoff=0.6)
    hint = f'did you mean "{close[0]}"?' if close else "hwsim hw list shows the catalogue"
    raise InputError.one(
        "<command line>",
        "system",
        "a catalogue name or a path to a YAML file",
        f'"{text}"',
        f"no such file or catalogue entry; {hint}",
    )


_LOADERS: dict[str, Callable[[Path], System]] = {
    "device": load_device,
    "node": load_node,
    "cluster": load_cluster,
}


def load_system(ref: str | Path) -> System:
    """Load a Device, Node or Cluster by catalogue stem ("h100_sxm", "dgx_h100") or by path to a YAML file."""
    path = locate(ref)
    return _LOADERS[hardware_kind(path)](path)


def check_file(path: str | Path) -> str:
    """Validate one hardware file and say what it is ("device h100_sxm: ..."); InputError if it is bad."""
    path = Path(path)
    kind = hardware_kind(path)
    if kind == "device":
        device = _device(path)
        if device is None:
            return f"device template {path.stem} (abstract: extend it and set the peaks)"
        return f"device {path.stem}: {device.description}"
    system = _LOADERS[kind](path)
    return f"{kind} {path.stem}: {system.description}"
