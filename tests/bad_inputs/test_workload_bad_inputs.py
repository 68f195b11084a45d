"""One broken workload per error message: each test states the exact line the user sees."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hwsim.errors import InputError
from hwsim.models import trusting_factories
from hwsim.trace import trace_workload
from hwsim.workload import apply_overrides, load_workload

Write = Callable[[str, str], Path]

BASE = """\
schema: hwsim.workload/1
model:
  family: llama
  layers: 2
  hidden: 64
  heads: 4
  kv_heads: 2
  ffn_hidden: 128
  vocab: 100
  seq_len: 64
task:
  mode: train
  batch: 2
  seq_len: 16
  dtype: fp32
"""

FACTORY = (
    "schema: hwsim.workload/1\nmodel:\n  factory: {ref}\n"
    "task: {{mode: train, batch: 1, seq_len: 8, dtype: fp32}}\n"
)


HF = FACTORY.format(ref="x").replace("factory: x", "hf_config: config.json")


def lines(path: Path | str, overrides: tuple[str, ...] = ()) -> list[str]:
    with pytest.raises(InputError) as info:
        load_workload(path, overrides)
    return str(info.value).splitlines()


def trace_lines(path: Path) -> list[str]:
    workload = load_workload(path)
    with pytest.raises(InputError) as info:
        trace_workload(workload)
    return str(info.value).splitlines()


@pytest.fixture
def trusted() -> Iterator[None]:
    """Run user factories, as `--trust-factory` does (tests/bad_inputs/test_factory_trust.py: without it)."""
    with trusting_factories():
        yield


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trusted: None) -> Callable[[str, str], None]:
    """Write an importable module NAME.py into tmp_path; its factories are trusted."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(name: str, text: str) -> None:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(text), encoding="utf-8")
        sys.modules.pop(name, None)

    return write


def test_unknown_family(write_yaml: Write) -> None:
    path = write_yaml("w.yaml", BASE.replace("family: llama", "family: lama"))
    assert lines(path) == [
        'w.yaml: model.family: expected one of gpt, llama, mixtral, got "lama" (did you mean "llama"?)'
    ]


def test_unknown_dimension_key(write_yaml: Write) -> None:
    path = write_yaml("w.yaml", BASE.replace("kv_heads: 2", "kv_head: 2"))
    assert lines(path) == [
        'w.yaml: model.kv_head: expected a known key, got "kv_head" (did you mean "kv_heads"?)'
    ]


def test_dimension_of_another_family(write_yaml: Write) -> None:
    path = write_yaml("w.yaml", BASE.replace("kv_heads: 2", "kv_heads: 2\n  experts: 8"))
    assert lines(path) == [
        'w.yaml: model.experts: expected a key of family llama, got "experts" (experts is for family mixtral)'
    ]


def test_heads_not_dividing_hidden(write_yaml: Write) -> None:
    path = write_yaml("w.yaml", BASE.replace("heads: 4\n", "heads: 5\n"))
    assert lines(path) == ["w.yaml: model.heads: expected a divisor of hidden (64), got 5"]


def test_kv_heads_not_dividing_heads(write_yaml: Write) -> None:
    path = write_yaml("w.yaml", BASE.replace("kv_heads: 2", "kv_heads: 3"))
    assert lines(path) == ["w.yaml: model.kv_heads: expected a divisor of heads (4), got 3"]


def test_top_k_above_experts(write_yaml: Write) -> None:
    text = BASE.replace("family: llama", "family: mixtral").replace(
        "kv_heads: 2", "kv_heads: 2\n  experts: 4\n  top_k: 5"
    )
    path = write_yaml("w.yaml", text)
    assert lines(path) == ["w.yaml: model.top_k: expected at most experts (4), got 5"]


def test_two_kinds_of_model(write_yaml: Write) -> None:
    path = write_yaml("w.yaml", BASE.replace("family: llama", "family: llama\n  factory: x.y:z"))
    assert lines(path) == [
        "w.yaml: model: expected exactly one of family, factory, hf_config, got family and factory"
    ]


def test_unknown_mode(write_yaml: Write) -> None:
    path = write_yaml("w.yaml", BASE.replace("mode: train", "mode: inference"))
    assert lines(path) == [
        'w.yaml: task.mode: expected one of train, prefill, decode, got "inference" '
        "(allowed: decode, prefill, train)"
    ]


def test_fp8_is_not_supported(write_yaml: Write) -> None:
    path = write_yaml("w.yaml", BASE.replace("dtype: fp32", "dtype: fp8"))
    assert lines(path) == [
        'w.yaml: task.dtype: expected one of bf16, fp16, fp32, got "fp8" '
        "(fp8 workloads are not supported yet: fp8 matmuls need scaled GEMMs that the zoo does not model)"
    ]


def test_misspelt_dtype(write_yaml: Write) -> None:
    path = write_yaml("w.yaml", BASE.replace("dtype: fp32", "dtype: bf61"))
    assert lines(path) == [
        'w.yaml: task.dtype: expected one of bf16, fp16, fp32, got "bf61" (did you mean "bf16"?)'
    ]


def test_sequence_longer_than_the_model(write_yaml: Write) -> None:
    path = write_yaml("w.yaml", BASE.replace("seq_len: 16", "seq_len: 128"))
    assert lines(path) == ["w.yaml: task.seq_len: expected at most model.seq_len (64), got 128"]


def test_decode_context_leaves_no_position(write_yaml: Write) -> None:
    path = write_yaml(
        "w.yaml",
        BASE.replace("mode: train", "mode: decode").replace("  seq_len: 16\n", "  context_len: 64\n"),
    )
    assert lines(path) == [
        "w.yaml: task.context_len: expected at most model.seq_len - 1 (63), got 64 "
        "(the new token needs a position)"
    ]


def test_key_of_another_mode(write_yaml: Write) -> None:
    path = write_yaml("w.yaml", BASE.replace("seq_len: 16", "prompt_len: 16"))
    assert lines(path) == [
        'w.yaml: task.prompt_len: expected no prompt_len for mode "train", got 16 '
        '(prompt_len is for mode "prefill")'
    ]


def test_missing_batch(write_yaml: Write) -> None:
    path = write_yaml("w.yaml", BASE.replace("  batch: 2\n", ""))
    assert lines(path) == [
        "w.yaml: task.batch: expected a whole number from 1 to 16,777,216, got nothing (this key is required)"
    ]


def test_decode_needs_a_zoo_model(write_yaml: Write, trusted: None) -> None:
    path = write_yaml(
        "w.yaml",
        FACTORY.format(ref="json:loads")
        .replace("mode: train", "mode: decode")
        .replace("seq_len: 8", "context_len: 8"),
    )
    assert lines(path) == [
        'w.yaml: task.mode: expected train or prefill for a factory or hf_config model, got "decode" '
        "(decode needs the zoo's KV cache: use a model family)"
    ]


def test_unknown_routing(write_yaml: Write) -> None:
    path = write_yaml("w.yaml", BASE + "routing: topk\n")
    assert lines(path) == ['w.yaml: routing: expected one of uniform, got "topk" (allowed: uniform)']


def test_every_problem_of_a_file_at_once(write_yaml: Write) -> None:
    path = write_yaml(
        "w.yaml", BASE.replace("heads: 4\n", "heads: 5\n").replace("mode: train", "mode: trian")
    )
    assert lines(path) == [
        "w.yaml: model.heads: expected a divisor of hidden (64), got 5",
        'w.yaml: task.mode: expected one of train, prefill, decode, got "trian" (did you mean "train"?)',
    ]


def test_unknown_shipped_stem() -> None:
    assert lines("llama3-8b-trian") == [
        '<workload>: expected a workload file or the stem of a shipped workload, got "llama3-8b-trian" '
        '(did you mean "llama3-8b-train"?)'
    ]


def test_override_without_equals(write_yaml: Write) -> None:
    path = write_yaml("w.yaml", BASE)
    assert lines(path, ("task.batch",)) == [
        '<command line>: --set: expected key=value with a dotted key, e.g. task.batch=8, got "task.batch"'
    ]


def test_override_into_a_scalar() -> None:
    with pytest.raises(InputError) as info:
        apply_overrides({"task": {"batch": 2}}, ["task.batch.size=3"])
    assert str(info.value) == "<command line>: task.batch.size: expected task.batch to be a mapping, got 2"


def test_override_with_a_bad_value_is_reported_like_the_file(write_yaml: Write) -> None:
    path = write_yaml("w.yaml", BASE)
    assert lines(path, ("task.batch=zero",)) == [
        'w.yaml: task.batch: expected a whole number from 1 to 16,777,216, got "zero"'
    ]


def test_factory_that_does_not_import(write_yaml: Write, trusted: None) -> None:
    path = write_yaml("w.yaml", FACTORY.format(ref="nosuchpkg.mod:build"))
    assert lines(path) == [
        'w.yaml: model.factory: expected an importable "package.module:function", got "nosuchpkg.mod:build" '
        "(ModuleNotFoundError: No module named 'nosuchpkg')"
    ]


def test_factory_without_the_function(write_yaml: Write, trusted: None) -> None:
    path = write_yaml("w.yaml", FACTORY.format(ref="json:nosuch"))
    assert lines(path) == [
        'w.yaml: model.factory: expected an importable "package.module:function", got "json:nosuch" '
        "(module json has no attribute nosuch)"
    ]


def test_factory_without_a_colon(write_yaml: Write) -> None:
    path = write_yaml("w.yaml", FACTORY.format(ref="json.loads"))
    assert lines(path) == [
        'w.yaml: model.factory: expected an importable "package.module:function", got "json.loads" '
        '(separate module and function with ":")'
    ]


def test_factory_that_raises(write_yaml: Write, user_module: Callable[[str, str], None]) -> None:
    user_module("raising_factory", "def build():\n    raise ValueError('no such size')\n")
    path = write_yaml("w.yaml", FACTORY.format(ref="raising_factory:build"))
    assert trace_lines(path) == [
        'w.yaml: model.factory: expected a factory that builds a model, got "raising_factory:build" '
        "(it raised ValueError: no such size)"
    ]


def test_factory_returning_something_else(write_yaml: Write, user_module: Callable[[str, str], None]) -> None:
    user_module("dict_factory", "def build():\n    return {'layers': 2}\n")
    path = write_yaml("w.yaml", FACTORY.format(ref="dict_factory:build"))
    assert trace_lines(path) == [
        'w.yaml: model.factory: expected a factory returning a torch.nn.Module, got "dict_factory:build" '
        "(it returned dict)"
    ]


def test_factory_model_that_fails_on_tokens(
    write_yaml: Write, user_module: Callable[[str, str], None]
) -> None:
    user_module("wrong_model", "import torch\ndef build():\n    return torch.nn.Linear(3, 4)\n")
    path = write_yaml("w.yaml", FACTORY.format(ref="wrong_model:build"))
    [line] = trace_lines(path)
    assert line.startswith(
        "w.yaml: model.factory: expected a model mapping token ids [batch, seq] to logits, "
        "got one that fails on "
        "them (RuntimeError: "
    )


def test_hf_config_missing(write_yaml: Write) -> None:
    path = write_yaml("w.yaml", FACTORY.format(ref="x").replace("factory: x", "hf_config: nofile.json"))
    assert lines(path) == [
        'w.yaml: model.hf_config: expected the path of a Hugging Face config.json, got "nofile.json" '
        "(no such file)"
    ]


def test_hf_config_not_json(write_yaml: Write) -> None:
    write_yaml("config.json", "{'model_type': llama")
    path = write_yaml("w.yaml", HF)
    [line] = lines(path)
    assert line.startswith(
        "w.yaml: model.hf_config: expected a Hugging Face config.json, got a file that is not JSON ("
    )


def test_hf_config_without_model_type(write_yaml: Write) -> None:
    write_yaml("config.json", '{"hidden_size": 64}')
    path = write_yaml("w.yaml", HF)
    assert lines(path) == [
        'w.yaml: model.hf_config: expected a Hugging Face config.json, got a file without a "model_type" '
        '(a config.json names its architecture, e.g. "model_type": "llama")'
    ]


def test_hf_config_without_transformers(write_yaml: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)  # import transformers now raises ImportError
    write_yaml("config.json", '{"model_type": "llama", "vocab_size": 100, "num_hidden_layers": 1}')
    path = write_yaml("w.yaml", HF)
    assert trace_lines(path) == [
        "w.yaml: model.hf_config: expected the optional dependency transformers, got it is not installed "
        "(pip install 'hwsim[hf]')"
    ]
