"""hwsim.errors: how problems are written, collected and suggested."""

import pytest

from hwsim.errors import InputError, Problem, Problems, did_you_mean, shown


def test_problem_line_names_file_key_expected_got_and_hint() -> None:
    p = Problem(where="x.yaml", key="memory.bandwidth", expected="a byte rate", got="3350", hint="no unit")
    assert p.line() == "x.yaml: memory.bandwidth: expected a byte rate, got 3350 (no unit)"


def test_problem_without_key_or_hint() -> None:
    assert Problem(where="x.yaml", expected="a file", got="a directory").line() == (
        "x.yaml: expected a file, got a directory"
    )


def test_problems_are_collected_and_raised_together() -> None:
    problems = Problems("f.yaml")
    problems.raise_if_any()  # nothing yet: no error
    problems.add("a", "x", "y")
    problems.add("b", "x", "z")
    with pytest.raises(InputError) as info:
        problems.raise_if_any()
    assert str(info.value).splitlines() == ["f.yaml: a: expected x, got y", "f.yaml: b: expected x, got z"]


def test_input_error_needs_a_problem() -> None:
    with pytest.raises(ValueError):
        InputError([])


def test_did_you_mean() -> None:
    assert did_you_mean("bandwith", ["bandwidth", "capacity"]) == 'did you mean "bandwidth"?'
    assert did_you_mean("zzz", ["b", "a"]) == "allowed: a, b"


def test_shown() -> None:
    assert shown("a") == '"a"'
    assert shown(None) == "nothing"
    assert shown(3) == "3"
    assert shown({}) == "a mapping"
