"""Write output files atomically: a run that fails part-way never leaves a half-written file."""

from __future__ import annotations

from pathlib import Path

from hwsim.errors import InputError
from hwsim.yamlio import display_path

__all__ = ["write_text_atomic"]


def write_text_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file beside it, then rename it into place.

    Bad targets (a directory, an unwritable folder) are user errors: one line, exit 1, and any earlier
    file at `path` is left as it was.
    """
    where = display_path(path)
    if path.is_dir():
        raise InputError.one(where, "", "a file path for the output", "a directory")
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError.one(where, "", "a writable file path", exc.strerror or type(exc).__name__) from None
