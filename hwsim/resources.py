"""Find the shipped catalogue (hardware_configs/) and workloads (workloads/) from a checkout or a wheel.

In a checkout (or an editable install) they sit beside the package at the repository root. A wheel
carries copies under hwsim/_data (see pyproject.toml, force-include). `HWSIM_HOME` points at
another root holding both folders, for users who keep their own catalogue.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["catalogue_dir", "find_by_stem", "workloads_dir"]

_PACKAGE = Path(__file__).resolve().parent


def _root_with(folder: str) -> Path:
    override = os.environ.get("HWSIM_HOME")
    candidates = [Path(override)] if override else []
    candidates += [_PACKAGE.parent, _PACKAGE / "_data"]
    for root in candidates:
        if (root / folder).is_dir():
            return root / folder
    return candidates[0] / folder


def catalogue_dir() -> Path:
    """The hardware catalogue: devices/, nodes/, clusters/, calibrations/."""
    return _root_with("hardware_configs")


def workloads_dir() -> Path:
    """The shipped workload recipes."""
    return _root_with("workloads")


def find_by_stem(folder: Path, stem: str) -> Path | None:
    """The YAML file named `stem` anywhere below `folder`, or None. `stem` is a name, never a pattern:
    one holding a path separator or glob characters (from a user's file) matches nothing."""
    if not stem or any(c in stem for c in "/\\*?[]") or stem in (".", ".."):
        return None
    try:
        found = sorted(folder.rglob(f"{stem}.yaml"))
    except OSError:  # a name the file system refuses (too long)
        return None
    return found[0] if found else None
