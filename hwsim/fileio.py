"""Write output files atomically, and check output paths before the work that fills them.

A run that fails part-way never leaves a half-written file: text goes to a temporary file in the same
folder, then is renamed into place. `check_output_file` and `check_output_folder` try the target
before an expensive run (a trace, a calibration) so that a bad `-o` fails at once. Every failure is
one InputError line naming the path and the system's reason (its strerror), exit code 1.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from hwsim.errors import InputError
from hwsim.yamlio import display_path

__all__ = ["check_output_file", "check_output_folder", "os_error", "write_text_atomic"]

_REFUSED = "a path the system refuses"


def os_error(path: Path, exc: OSError, expected: str = "a writable file path") -> InputError:
    """The one line for an OSError met while writing `path`: the path and the OS reason."""
    reason = exc.strerror or type(exc).__name__
    return InputError.one(display_path(path), "", expected, _REFUSED, reason)


def _tmp_name(path: Path) -> Path:
    """The temporary file beside `path`: hidden, per process, short enough for any file system."""
    return path.with_name(f".{path.name[:100]}.{os.getpid()}.tmp")


def _kind(path: Path) -> str:
    """ "dir", "file" (anything else that exists) or "" (nothing there); OSError for a bad path."""
    try:
        return "dir" if stat.S_ISDIR(os.stat(path).st_mode) else "file"
    except (FileNotFoundError, NotADirectoryError):
        return ""


def _refuse_dir(path: Path) -> None:
    try:
        kind = _kind(path)
    except OSError as exc:
        raise os_error(path, exc) from None
    if kind == "dir":
        raise InputError.one(display_path(path), "", "a file path for the output", "a directory")


def _make_folder(folder: Path, path: Path, expected: str) -> list[Path]:
    """Create `folder` and its missing parents; the ones created, deepest first."""
    missing: list[Path] = []
    probe = folder
    try:
        while (kind := _kind(probe)) == "" and probe != probe.parent:
            missing.append(probe)
            probe = probe.parent
        if kind == "file":  # mkdir would say "File exists"; the real reason is a file where a folder goes
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _remove_folders(missing)
        raise os_error(path, exc, expected) from None
    return missing


def _remove_folders(folders: list[Path]) -> None:
    for folder in folders:  # deepest first; a folder something else wrote into stays
        try:
            folder.rmdir()
        except OSError:
            pass


def _probe(name: Path, path: Path, expected: str) -> None:
    """Create and remove the temporary file a write would use, to learn whether it can be made."""
    try:
        with open(name, "x", encoding="utf-8"):
            pass
        name.unlink()
    except FileExistsError:
        pass  # a file of that name already: the folder is usable, the earlier run's leftover is replaced
    except OSError as exc:
        raise os_error(path, exc, expected) from None


def check_output_file(path: Path) -> None:
    """Refuse now an output file that `write_text_atomic` could not write later; leave nothing behind.

    Catches a directory given as the file, a path below a regular file, a name too long for the
    file system, a folder that cannot be written. Folders it had to create for the probe are removed.
    """
    _refuse_dir(path)
    created = _make_folder(path.parent, path, "a writable file path")
    try:
        if len(os.fsencode(path.name)) > _name_max(path.parent):
            too_long = OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG))
            raise os_error(path, too_long)  # the rename into place would fail after the work
        _probe(_tmp_name(path), path, "a writable file path")
    finally:
        _remove_folders(created)


def check_output_folder(folder: Path) -> None:
    """Refuse now an output folder that cannot be made or written into (a regular file, a path below
    one, a name too long). The folder is created: the command that checks it is about to fill it."""
    try:
        kind = _kind(folder)
    except OSError as exc:
        raise os_error(folder, exc, "a writable folder") from None
    if kind == "file":
        raise InputError.one(display_path(folder), "", "a folder for the output", "a file")
    _make_folder(folder, folder, "a writable folder")
    _probe(folder / f".hwsim-probe.{os.getpid()}.tmp", folder, "a writable folder")


def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return 255


def write_text_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file beside it, then rename it into place.

    Bad targets (a directory, a path below a regular file, a name too long, an unwritable folder) are
    user errors: one line naming the path and the OS reason, exit 1; any earlier file at `path` is left
    as it was and no temporary file stays behind.
    """
    _refuse_dir(path)
    tmp = _tmp_name(path)
    _make_folder(path.parent, path, "a writable file path")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise os_error(path, exc) from None
