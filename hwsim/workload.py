"""Read a workload file (`schema: hwsim.workload/1`): a model plus what it does, into a frozen `Workload`.

Layout (every key is checked; unknown keys get a "did you mean"):

    schema: hwsim.workload/1
    extends: other-workload        # optional, one parent by stem or path
    description: text              # optional
    sources: [where the dimensions come from, ...]
    model:                         # exactly one of family / factory / hf_config
      family: llama                # gpt | llama | mixtral, with its dimensions (hwsim.models.config)
      layers: 32
      ...
      # factory: "package.module:function"   (args: {...} passed as keyword arguments)
      # hf_config: path/to/config.json        (relative to this file; needs hwsim[hf])
    task:
      mode: train                  # train | prefill | decode
      batch: 1                     # sequences per step (the micro-batch)
      dtype: bf16                  # bf16 | fp16 | fp32
      seq_len: 4096                # train: tokens per sequence (default: the model's seq_len)
      optimizer: adamw             # train
      # prompt_len: 2048           # prefill: prompt tokens per sequence
      # context_len: 4096          # decode: tokens already in the KV cache
      launch: eager                # eager | graph: kernels launched one by one, or the step captured
                                   # once (CUDA graphs / compiled, as inference engines run decode)
    plan: {tp: 8, pp: 1, dp: 1}    # optional; kept for the parallel planner
    routing: uniform               # mixture-of-experts token routing assumption

`--set key=value` overrides are dotted keys applied to the merged mapping before validation
(`apply_overrides`), values parsed with `yaml.safe_load`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hwsim.errors import InputError, Problems, did_you_mean, shown
from hwsim.limits import MAX_TOKENS_PER_STEP, count_range
from hwsim.models import FAMILIES, FAMILY_KEYS, ModelSpec, load_factory
from hwsim.resources import find_by_stem, workloads_dir
from hwsim.yamlio import FieldReader, display_path, load_with_extends

__all__ = [
    "DTYPES",
    "MODES",
    "ROUTINGS",
    "SCHEMA",
    "Task",
    "Workload",
    "apply_overrides",
    "load_workload",
    "parse_workload",
]

SCHEMA = "hwsim.workload/1"
MODES: tuple[str, ...] = ("train", "prefill", "decode")
DTYPES: tuple[str, ...] = ("bf16", "fp16", "fp32")
OPTIMIZERS: tuple[str, ...] = ("adamw",)
ROUTINGS: tuple[str, ...] = ("uniform",)
LAUNCHES: tuple[str, ...] = ("eager", "graph")
_MODE_KEYS = {"seq_len": "train", "optimizer": "train", "prompt_len": "prefill", "context_len": "decode"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Task:
    """What one step does. Training is mixed precision when dtype is below fp32 (see hwsim.trace.step)."""

    mode: str
    batch: int
    dtype: str
    seq_len: int = 0  # train
    prompt_len: int = 0  # prefill
    context_len: int = 0  # decode
    optimizer: str = ""  # train
    launch: str = "eager"  # "eager" | "graph" (hwsim.schedule): how an accelerator's kernels are launched

    @property
    def step_len(self) -> int:
        """New tokens per sequence in one step."""
        return {"train": self.seq_len, "prefill": self.prompt_len, "decode": 1}[self.mode]

    @property
    def tokens(self) -> int:
        return self.batch * self.step_len


@dataclass(frozen=True, slots=True, kw_only=True)
class Workload:
    """A validated workload file."""

    name: str
    model: ModelSpec
    task: Task
    plan: Mapping[str, Any] = field(default_factory=dict)
    routing: str = "uniform"
    sources: tuple[str, ...] = ()
    description: str = ""
    path: str = ""  # the file as shown to the user; "" when built in code

    @property
    def where(self) -> str:
        return self.path or "<workload>"


def apply_overrides(
    raw: Mapping[str, Any], overrides: Iterable[str], where: str = "<command line>"
) -> dict[str, Any]:
    """A copy of `raw` with each "dotted.key=value" set; values are parsed with yaml.safe_load."""
    out = copy.deepcopy(dict(raw))
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        parts = key.split(".")
        if not sep or not key or any(not p for p in parts):
            raise InputError.one(
                where, "--set", "key=value with a dotted key, e.g. task.batch=8", shown(item)
            )
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            raise InputError.one(
                where, key, "a YAML value", shown(text), "quote text that contains : or #"
            ) from None
        node = out
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                inner = ".".join(parts[: depth + 1])
                raise InputError.one(where, key, f"{inner} to be a mapping", shown(child))
            else:
                child = node[part] = dict(child)
            node = child
        node[parts[-1]] = value
    return out


def _find_parent(ref: str, current: Path) -> Path:
    candidate = current.parent / ref
    if candidate.suffix in (".yaml", ".yml") or "/" in ref:
        return candidate
    return (
        find_by_stem(current.parent, ref)
        or find_by_stem(workloads_dir(), ref)
        or current.parent / f"{ref}.yaml"
    )


def _resolve(ref: str | Path) -> Path:
    text = str(ref)
    if isinstance(ref, Path) or "/" in text or text.endswith((".yaml", ".yml")):
        return Path(ref)
    found = find_by_stem(workloads_dir(), text)
    if found is None:
        stems = sorted(p.stem for p in workloads_dir().rglob("*.yaml"))
        raise InputError.one(
            "<workload>",
            "",
            "a workload file or the stem of a shipped workload",
            shown(text),
            did_you_mean(text, stems),
        )
    return found


def load_workload(ref: str | Path, overrides: Iterable[str] = ()) -> Workload:
    """Load a workload by stem (under hwsim.resources.workloads_dir()) or path, with dotted overrides."""
    path = _resolve(ref)
    raw = load_with_extends(path, SCHEMA, _find_parent)
    raw = apply_overrides(raw, overrides)
    return parse_workload(raw, where=display_path(path), name=path.stem, base_dir=path.parent)


def parse_workload(
    raw: Mapping[str, Any], *, where: str = "<workload>", name: str = "workload", base_dir: Path | None = None
) -> Workload:
    """Validate a workload mapping, collecting every problem into one InputError."""
    problems = Problems(where)
    top = FieldReader(dict(raw), problems)
    top.string("schema", required=False)
    name = top.string("name", required=False, default=name) or name
    description = top.string("description", required=False, default="") or ""
    sources = top.strings("sources", required=False)
    model = _read_model(top.mapping("model"), problems, base_dir or Path.cwd())
    task = _read_task(top.mapping("task"), problems, model)
    plan_reader = top.mapping("plan", required=False)
    plan = dict(plan_reader.items())
    routing = top.string("routing", required=False, choices=ROUTINGS, default="uniform") or "uniform"
    top.finish()
    problems.raise_if_any()
    if model is None or task is None:  # every path that leaves them None has added a problem
        raise InputError.one(where, "", "a valid workload", "an incomplete one")
    return Workload(
        name=name,
        model=model,
        task=task,
        plan=plan,
        routing=routing,
        sources=sources,
        description=description,
        path=where if where != "<workload>" else "",
    )


def _read_model(m: FieldReader, problems: Problems, base_dir: Path) -> ModelSpec | None:
    given = [k for k in ("family", "factory", "hf_config") if m.has(k)]
    if len(given) != 1:
        got = " and ".join(given) if given else "none of them"
        problems.add("model", "exactly one of family, factory, hf_config", got)
        return None  # the other keys cannot be judged before the kind of model is known
    if given[0] == "factory":
        return _read_factory(m, problems)
    if given[0] == "hf_config":
        return _read_hf(m, problems, base_dir)
    family = m.string("family", choices=FAMILIES)
    if family is None:
        for _ in m.items():  # the dimensions cannot be checked without a family
            pass
        return None
    required, optional = FAMILY_KEYS[family]
    dims: dict[str, Any] = {k: m.integer(k) for k in required}
    gpt = family == "gpt"
    if "kv_heads" in optional:
        dims["kv_heads"] = m.integer("kv_heads", required=False, default=dims["heads"])
    dims["tie_embeddings"] = m.boolean("tie_embeddings", default=gpt)
    dims["norm_eps"] = m.number("norm_eps", required=False, default=1e-5, low=0.0)
    if "rope_theta" in optional:
        dims["rope_theta"] = m.number("rope_theta", required=False, default=10000.0, low=1.0)
    if "bias" in optional:
        dims["bias"] = m.boolean("bias", default=True)
    for key in list(m.data):
        owners = [f for f, (req, opt) in FAMILY_KEYS.items() if key in req or key in opt]
        if key not in m.known and owners:
            m.known.add(key)
            problems.add(
                m.key(key),
                f"a key of family {family}",
                shown(key),
                f"{key} is for family " + " or ".join(owners),
            )
    m.finish()
    if any(v is None for v in dims.values()):
        return None
    ok = True
    hidden, heads, kv_heads = dims["hidden"], dims["heads"], dims.get("kv_heads") or dims["heads"]
    if hidden % heads:
        problems.add(m.key("heads"), f"a divisor of hidden ({hidden})", shown(heads))
        ok = False
    elif kv_heads and heads % kv_heads:
        problems.add(m.key("kv_heads"), f"a divisor of heads ({heads})", shown(kv_heads))
        ok = False
    elif not gpt and (hidden // heads) % 2:
        problems.add(
            m.key("heads"), "a head size hidden/heads that is even (RoPE rotates pairs)", shown(heads)
        )
        ok = False
    if family == "mixtral" and dims["top_k"] > dims["experts"]:
        problems.add(m.key("top_k"), f"at most experts ({dims['experts']})", shown(dims["top_k"]))
        ok = False
    return ModelSpec(family=family, **dims) if ok else None


def _read_factory(m: FieldReader, problems: Problems) -> ModelSpec | None:
    ref = m.string("factory")
    args = dict(m.mapping("args", required=False).items())
    vocab = m.integer("vocab", required=False, default=0)
    seq_len = m.integer("seq_len", required=False, default=0)
    m.finish()
    if ref is None:
        return None
    try:
        load_factory(ref, problems.where)
    except InputError as exc:
        problems.extend(exc.problems)
        return None
    return ModelSpec(family="factory", factory=ref, factory_args=args, vocab=vocab or 0, seq_len=seq_len or 0)


def _read_hf(m: FieldReader, problems: Problems, base_dir: Path) -> ModelSpec | None:
    from hwsim.models.hf import read_hf_config

    ref = m.string("hf_config")
    m.finish()
    if ref is None:
        return None
    path = Path(ref) if Path(ref).is_absolute() else base_dir / ref
    try:
        config = read_hf_config(path, problems.where)
    except InputError as exc:
        problems.extend(exc.problems)
        return None
    vocab = config.get("vocab_size")
    seq_len = config.get("max_position_embeddings")
    return ModelSpec(
        family="hf",
        hf_config=str(path),
        layers=int(config.get("num_hidden_layers") or 0),
        hidden=int(config.get("hidden_size") or 0),
        heads=int(config.get("num_attention_heads") or 0),
        vocab=vocab if isinstance(vocab, int) else 0,
        seq_len=seq_len if isinstance(seq_len, int) else 0,
    )


def _read_task(t: FieldReader, problems: Problems, model: ModelSpec | None) -> Task | None:
    mode = t.string("mode", choices=MODES)
    batch = t.integer("batch")
    dtype = t.string("dtype", required=False, default="bf16")
    launch = t.string("launch", required=False, default="eager", choices=LAUNCHES)
    if dtype is not None and dtype not in DTYPES:
        hint = (
            "fp8 workloads are not supported yet: fp8 matmuls need scaled GEMMs that the zoo does not model"
            if dtype.startswith("fp8")
            else did_you_mean(dtype, DTYPES)
        )
        problems.add(t.key("dtype"), "one of " + ", ".join(DTYPES), shown(dtype), hint)
        dtype = None
    lengths: dict[str, Any] = {}
    for key, owner in _MODE_KEYS.items():
        if not t.has(key) or mode is None or t.data[key] is None:
            continue
        if owner != mode:
            problems.add(
                t.key(key), f'no {key} for mode "{mode}"', shown(t.data[key]), f'{key} is for mode "{owner}"'
            )
        elif key == "optimizer":
            lengths[key] = t.string(key, choices=OPTIMIZERS)
        else:
            lengths[key] = t.integer(key)
    t.finish()
    if mode is None or batch is None or dtype is None or any(v is None for v in lengths.values()):
        return None
    task = Task(mode=mode, batch=batch, dtype=dtype, launch=launch or "eager", **lengths)
    if mode == "train":
        task = Task(
            mode=mode,
            batch=batch,
            dtype=dtype,
            launch=launch or "eager",
            optimizer=task.optimizer or "adamw",
            seq_len=task.seq_len or (model.seq_len if model else 0),
        )
        if not task.seq_len:
            problems.add(
                t.key("seq_len"), count_range("seq_len").expected(), "nothing", "the model has no seq_len to default to"
            )
            return None
    elif mode == "prefill" and not task.prompt_len:
        problems.add(
            t.key("prompt_len"), count_range("prompt_len").expected(), "nothing", "this key is required for prefill"
        )
        return None
    elif mode == "decode" and not task.context_len:
        problems.add(
            t.key("context_len"), count_range("context_len").expected(), "nothing", "this key is required for decode"
        )
        return None
    if task.tokens > MAX_TOKENS_PER_STEP:
        problems.add(
            t.key("batch"),
            f"batch x tokens per sequence at most {MAX_TOKENS_PER_STEP:,} (hwsim.limits)",
            f"{task.batch:,} x {task.step_len:,}",
        )
        return None
    if model is None:
        return task
    if not model.is_zoo and mode == "decode":
        problems.add(
            t.key("mode"),
            "train or prefill for a factory or hf_config model",
            shown(mode),
            "decode needs the zoo's KV cache: use a model family",
        )
        return None
    limit = model.seq_len
    needed = {
        "train": ("seq_len", task.seq_len),
        "prefill": ("prompt_len", task.prompt_len),
        "decode": ("context_len", task.context_len + 1),
    }[mode]
    if limit and needed[1] > limit:
        if mode == "decode":
            problems.add(
                t.key("context_len"),
                f"at most model.seq_len - 1 ({limit - 1})",
                shown(task.context_len),
                "the new token needs a position",
            )
        else:
            problems.add(t.key(needed[0]), f"at most model.seq_len ({limit})", shown(needed[1]))
        return None
    return task
