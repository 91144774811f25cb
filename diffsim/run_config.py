"""Training configs: loaded, overridden and checked before anything is built.

A config is a YAML mapping (``diffsim/configs/*.yaml``, or a file of yours) of the trainer's
settings (``TRAINER``), the environment's (``model``, ``env_options``) and one section per
agent (``sac``, ``hybrid``, ``shac``: the fields of ``SACConfig``, ``HybridConfig`` and
``SHACConfig``). ``check_config`` rejects, naming the setting and what is allowed:

* unknown settings and sections, with the known ones listed;
* values of the wrong type (YAML 1.1 reads ``1e-3`` as a string: numbers written that way
  are read as numbers; a whole-valued float is accepted where an int is expected);
* values out of range: step counts, batch sizes, horizons, buffer sizes and layer widths
  must be positive, the replay buffer must hold at least one batch.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
import types
import typing
from pathlib import Path

import yaml

from diffsim.envs import Ant, CartpoleSwingUp, Gripper

CONFIGS = Path(__file__).parent / "configs"
ENVS = {"cartpole": CartpoleSwingUp, "ant": Ant, "gripper": Gripper}  # the config's env: name -> class
AGENTS = ("sac", "hybrid", "shac")  # the config's agent

# trainer settings: (type, smallest allowed value or None, what it is)
TRAINER = {
    "env": (str, None, "the environment"),
    "agent": (str, None, "the agent: sac, hybrid or shac"),
    "seed": (int, None, "random seed"),
    "num_envs": (int, 1, "environments stepped together"),
    "total_steps": (int, 1, "environment steps of the run, all environments counted"),
    "learning_starts": (int, 0, "environment steps of random actions before learning (sac, hybrid)"),
    "updates_per_step": (int, 1, "gradient updates per step of all environments (sac, hybrid)"),
    "buffer_size": (int, 1, "replay buffer capacity in transitions (sac, hybrid)"),
    "eval_every": (int, 0, "environment steps between evaluations (0: none)"),
    "eval_envs": (int, 1, "evaluation episodes, run as one batch"),
    "checkpoint_every": (int, 0, "environment steps between checkpoints (0: only at the end)"),
    "target_return": (float, None, "evaluation return that counts as solved"),
}
SECTIONS = ("model", "env_options", "sac", "hybrid", "shac")
REQUIRED = tuple(TRAINER)
# integer agent fields that must be positive; every layer width in a *hidden tuple too
POSITIVE = ("batch_size", "horizon", "physics_batch", "physics_every", "critic_iterations", "critic_minibatches")

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


class ConfigError(ValueError):
    """A config that cannot run, with the setting and what is allowed."""


def parse_value(text: str):
    """A ``--set`` value: YAML, except that numbers in exponent form (``1e-3``, ``1e5``) are
    numbers, not the strings YAML 1.1 makes of them."""
    value = yaml.safe_load(text)
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        return float(value)
    return value


def load_config(name_or_path: str, overrides=()) -> dict:
    """A shipped config by name (``cartpole``) or a ``.yaml``/``.yml`` file, with ``key=value``
    overrides (dotted keys), checked by ``check_config``."""
    text = str(name_or_path)
    shipped = sorted(p.stem for p in CONFIGS.glob("*.yaml"))
    if text.endswith((".yaml", ".yml")):
        path = Path(text)
        if not path.is_file():
            raise ConfigError(f"no config file {path}")
    elif text in shipped:
        path = CONFIGS / f"{text}.yaml"
    else:
        raise ConfigError(f"no config {text!r}: give a .yaml path or one of: {', '.join(shipped)}")
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not a text file ({e.reason})") from None
    if not isinstance(config, dict) or not config:
        raise ConfigError(
            f"{path}: expected a mapping of settings (env: ..., agent: ..., ...), "
            f"got {'an empty file' if config is None else type(config).__name__}"
        )
    missing = [key for key in REQUIRED if key not in config]
    if missing:
        raise ConfigError(f"{path}: missing setting(s) {missing}")
    config["name"] = path.stem
    return apply_overrides(config, overrides, source=str(path))


def apply_overrides(config: dict, overrides, source: str = "config") -> dict:
    """Apply ``key=value`` overrides (``sac.actor_lr=1e-3``), then ``check_config``."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        key, value = item.split("=", 1)
        *parents, leaf = key.strip().split(".")
        if not parents and leaf not in TRAINER and leaf not in SECTIONS:
            raise ConfigError(f"unknown config key {key!r}; known: {', '.join(sorted([*TRAINER, *SECTIONS]))}")
        if parents and parents[0] not in SECTIONS:
            raise ConfigError(f"unknown config section {parents[0]!r} in --set {item}; sections: {', '.join(SECTIONS)}")
        node = config
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item}: {part!r} is not a section")
        node[leaf] = parse_value(value)
    return check_config(config, source)


def _agent_fields(section: str) -> dict:
    from diffsim.rl import HybridConfig, SACConfig, SHACConfig

    kind = {"sac": SACConfig, "hybrid": HybridConfig, "shac": SHACConfig}[section]
    hints = typing.get_type_hints(kind)
    return {f.name: hints[f.name] for f in dataclasses.fields(kind)}


def _coerce(value, kind, where: str):
    """``value`` as ``kind`` (int, float, bool, str, tuple, Optional[...]), or ConfigError."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        options = [k for k in typing.get_args(kind) if k is not type(None)]
        if value is None:
            return None
        kind = options[0]
    if isinstance(value, str) and kind in (int, float) and _NUMBER.match(value.strip()):
        value = float(value)
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, bool):
            pass
        elif isinstance(value, int):
            return value
        elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(float(value)):
                raise ConfigError(f"{where} must be a finite number, got {value!r}")
            return float(value)
    elif kind is str:
        if isinstance(value, str):
            return value
    elif kind is tuple:
        if isinstance(value, (list, tuple)):
            return list(value)  # as YAML and JSON write it; the agent's dataclass gets a tuple
    else:
        return value
    name = getattr(kind, "__name__", str(kind))
    raise ConfigError(f"{where} must be {'a list' if kind is tuple else 'a ' + name}, got {value!r}")


def check_config(config: dict, source: str = "config") -> dict:
    """Check every setting's name, type and range; returns the config with values coerced
    (``1e5`` -> 100000 for an int setting). Raises ConfigError naming the first problem."""
    unknown = sorted(set(config) - set(TRAINER) - set(SECTIONS) - {"name"})
    if unknown:
        raise ConfigError(f"{source}: unknown setting(s) {unknown}; known: {', '.join(sorted([*TRAINER, *SECTIONS]))}")
    for key, (kind, low, what) in TRAINER.items():
        if key not in config:
            raise ConfigError(f"{source}: missing setting {key!r} ({what})")
        value = config[key] = _coerce(config[key], kind, f"{source}: {key} ({what})")
        if low is not None and value < low:
            raise ConfigError(f"{source}: {key} ({what}) must be >= {low}, got {value!r}")
    if config["env"] not in ENVS:
        raise ConfigError(f"{source}: unknown env {config['env']!r}; known: {', '.join(ENVS)}")
    if config["agent"] not in AGENTS:
        raise ConfigError(f"{source}: unknown agent {config['agent']!r}; known: {', '.join(AGENTS)}")
    for section in SECTIONS:
        if config.get(section) is None:
            config[section] = {}
        if not isinstance(config[section], dict):
            raise ConfigError(f"{source}: section {section!r} must be a mapping, got {config[section]!r}")
    _check_model_settings(config["model"], source)
    accepted = set(inspect.signature(ENVS[config["env"]]).parameters) - {"num_envs", "device", "seed", "dtype"}
    unknown = sorted(set(config["env_options"]) - accepted)
    if unknown:
        raise ConfigError(
            f"{source}: section 'env_options': {config['env']} has no option(s) {unknown}; "
            f"known: {', '.join(sorted(accepted))}"
        )
    for section in ("sac", "hybrid", "shac"):
        fields = _agent_fields(section)  # the hybrid section adds to (and overrides) the sac one
        values = config[section]
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ConfigError(
                f"{source}: section {section!r} has no setting(s) {unknown}; known: {', '.join(sorted(fields))}"
            )
        for key, value in values.items():
            where = f"{source}: {section}.{key}"
            value = values[key] = _coerce(value, fields[key], where)
            if key in POSITIVE and value < 1:
                raise ConfigError(f"{where} must be >= 1, got {value!r}")
            if key.endswith("hidden") and (not value or not all(isinstance(w, int) and w >= 1 for w in value)):
                raise ConfigError(f"{where} must be a non-empty list of layer widths >= 1, got {list(value)!r}")
            if key.endswith("lr") and value < 0:
                raise ConfigError(f"{where} must be >= 0, got {value!r}")
    if config["agent"] in ("sac", "hybrid"):
        settings = {**config["sac"], **(config["hybrid"] if config["agent"] == "hybrid" else {})}
        batch = settings.get("batch_size", _default("sac", "batch_size"))
        if config["buffer_size"] < batch:
            raise ConfigError(
                f"{source}: buffer_size ({config['buffer_size']}) must hold at least one batch (batch_size = {batch})"
            )
    return config


def _check_model_settings(settings: dict, source: str) -> None:
    """The ``model`` section: names of the model's settings, and the scalar ones' values."""
    from diffsim.model import PARAMETERS, POSITIVE, Model, _checked

    choices = {"contact_model": ("smooth", "mujoco")}
    counts = {"contact_capacity"}
    scalars = {name for name, attr in vars(Model).items() if isinstance(attr, property) and attr.fset is not None}
    scalars -= set(choices) | counts
    known = scalars | set(PARAMETERS) | {"enable_contact"} | set(choices) | counts
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ConfigError(f"{source}: section 'model' has no setting(s) {unknown}; known: {', '.join(sorted(known))}")
    for name in sorted(set(settings) & set(choices)):
        if settings[name] not in choices[name]:
            raise ConfigError(f"{source}: model.{name} must be one of {choices[name]}, got {settings[name]!r}")
    for name in sorted(set(settings) & counts):
        if isinstance(settings[name], bool) or not isinstance(settings[name], int) or settings[name] < 0:
            raise ConfigError(f"{source}: model.{name} must be an int >= 0, got {settings[name]!r}")
    positive = {"dt", "contact_width", "contact_slip", "limit_width"}
    assert {"contact_width", "contact_slip"} <= positive and POSITIVE["contact_params"] == (2, 3)
    for name in sorted(set(settings) & scalars):
        try:
            settings[name] = _checked(f"model.{name}", settings[name], positive=name in positive)
        except ValueError as e:
            raise ConfigError(f"{source}: {e}") from None


def _default(section: str, key: str):
    from diffsim.rl import HybridConfig, SACConfig, SHACConfig

    kind = {"sac": SACConfig, "hybrid": HybridConfig, "shac": SHACConfig}[section]
    return {f.name: f.default for f in dataclasses.fields(kind)}[key]
