"""Typed errors for bad input: one line per problem, naming file, dotted key, expected, got and a hint.

Library code raises these; only the CLI turns them into text and an exit code (1 for bad input,
2 for bad usage). A validator collects every problem in a file into one `InputError` before raising,
so the user fixes a file in one pass. This module imports nothing from hwsim.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = [
    "HwsimError",
    "InputError",
    "InternalError",
    "Problem",
    "Problems",
    "UsageError",
    "did_you_mean",
    "shown",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One thing wrong with one value: where it is, what was expected, what was got, and a hint."""

    where: str  # a file path, or "<command line>", "<workload>"
    key: str = ""  # dotted key inside the file ("memory.bandwidth"); "" for the whole file
    expected: str
    got: str
    hint: str = ""

    def line(self) -> str:
        head = f"{self.where}: {self.key}: " if self.key else f"{self.where}: "
        tail = f" ({self.hint})" if self.hint else ""
        return f"{head}expected {self.expected}, got {self.got}{tail}"


class HwsimError(Exception):
    """Base of every error meant for the user rather than for a traceback."""

    exit_code = 1


class InputError(HwsimError):
    """Bad input: one or more problems, each printed on its own line. Exit code 1."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        if not self.problems:
            raise ValueError("InputError needs at least one problem")
        super().__init__("\n".join(p.line() for p in self.problems))

    @classmethod
    def one(cls, where: str, key: str, expected: str, got: str, hint: str = "") -> InputError:
        return cls([Problem(where=where, key=key, expected=expected, got=got, hint=hint)])


class UsageError(HwsimError):
    """The command line itself is wrong (a flag, a missing argument). Exit code 2."""

    exit_code = 2


class InternalError(HwsimError):
    """hwsim computed a figure it must not show (NaN, infinite, negative): a fault in hwsim, or an input
    it failed to refuse. The message names the figure, never its value. Exit code 3."""

    exit_code = 3

    def __init__(self, message: str) -> None:
        super().__init__(f"hwsim: internal error: {message}; please report it with the command that ran")


@dataclass(slots=True)
class Problems:
    """Collects the problems of one file so that all of them are reported at once."""

    where: str
    found: list[Problem] = field(default_factory=list)

    def add(self, key: str, expected: str, got: str, hint: str = "") -> None:
        self.found.append(Problem(where=self.where, key=key, expected=expected, got=got, hint=hint))

    def extend(self, problems: Iterable[Problem]) -> None:
        self.found.extend(problems)

    def raise_if_any(self) -> None:
        if self.found:
            raise InputError(self.found)


def shown(value: object) -> str:
    """How a received value is written in an error message: strings quoted, the rest as Python."""
    if isinstance(value, str):
        return f'"{value}"'
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def did_you_mean(name: str, options: Iterable[str]) -> str:
    """A hint naming the closest allowed option, or listing them all when nothing is close."""
    options = sorted(options)
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    if close:
        return f'did you mean "{close[0]}"?'
    return "allowed: " + ", ".join(options)
