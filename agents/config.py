"""Hyperparameters: one typed dataclass per algorithm, presets in ``agents/configs/<algo>.yml``.

Each YAML file has one section per preset: ``atari`` (pixel games) and
``classic`` (classic-control tasks such as CartPole).  A user YAML file given
with ``--config`` overrides fields of the chosen preset, either at the top
level or under the same preset names.  Unknown fields are an error (a typo
would otherwise silently train with the default).

Example:
    >>> from agents.config import load_config
    >>> cfg = load_config("a2c", "atari")
    >>> cfg.n_envs, cfg.n_steps, cfg.learning_rate, cfg.vf_coef
    (16, 5, 0.0007, 0.25)
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
PRESETS = ("atari", "classic")


class ConfigError(ValueError):
    """A hyperparameter file or value is invalid."""


@dataclass
class A2CConfig:
    """Synchronous advantage actor-critic (SB3 ``A2C``), rl-baselines3-zoo settings.

    Attributes:
        policy: SB3 policy: ``CnnPolicy`` for pixels, ``MlpPolicy`` for vectors.
        n_envs: Parallel environments.
        n_steps: Steps per environment per update (rollout length).
        learning_rate: Optimiser step size.
        gamma: Discount factor.
        gae_lambda: GAE lambda (1.0 = plain n-step returns, as in A2C).
        ent_coef: Entropy bonus coefficient.
        vf_coef: Value loss coefficient.
        max_grad_norm: Gradient norm clipping.
        use_rms_prop: RMSprop (True) or Adam.
        rms_prop_eps: RMSprop epsilon.
        rms_prop_tf_like: Use SB3's TensorFlow-like RMSprop, as the zoo does for Atari.
        normalize_advantage: Normalise advantages per batch.
        normalize_reward: Scale rewards by a running std of returns
            (``VecNormalize``); ``None`` = on when the game's rewards are not
            clipped (Skiing's per-frame time penalties are large).
        net_arch: Hidden layer sizes of the MLP policy (``MlpPolicy`` only);
            empty = SB3's default.
        ortho_init: Orthogonal initialisation of the networks.
    """

    policy: str = "CnnPolicy"
    n_envs: int = 16
    n_steps: int = 5
    learning_rate: float = 7e-4
    gamma: float = 0.99
    gae_lambda: float = 1.0
    ent_coef: float = 0.01
    vf_coef: float = 0.25
    max_grad_norm: float = 0.5
    use_rms_prop: bool = True
    rms_prop_eps: float = 1e-5
    rms_prop_tf_like: bool = True
    normalize_advantage: bool = False
    normalize_reward: bool | None = None
    net_arch: list[int] = field(default_factory=list)
    ortho_init: bool = True

    def validate(self) -> None:
        """Raise :class:`ConfigError` on values that cannot train."""
        _positive_int(self, "n_envs", "n_steps")
        _probability(self, "gamma", "gae_lambda")
        _nonnegative(self, "ent_coef", "vf_coef")
        _positive(self, "learning_rate", "max_grad_norm", "rms_prop_eps")
        if self.policy not in ("CnnPolicy", "MlpPolicy"):
            raise ConfigError(f"policy must be CnnPolicy or MlpPolicy, got {self.policy!r}")

    def sb3_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``stable_baselines3.A2C``."""
        policy_kwargs: dict[str, Any] = {"ortho_init": self.ortho_init}
        if self.net_arch:
            policy_kwargs["net_arch"] = list(self.net_arch)
        if self.use_rms_prop and self.rms_prop_tf_like:
            from stable_baselines3.common.sb2_compat.rmsprop_tf_like import RMSpropTFLike

            policy_kwargs["optimizer_class"] = RMSpropTFLike
            policy_kwargs["optimizer_kwargs"] = {"eps": self.rms_prop_eps}
        return {
            "policy": self.policy, "n_steps": self.n_steps, "learning_rate": self.learning_rate,
            "gamma": self.gamma, "gae_lambda": self.gae_lambda, "ent_coef": self.ent_coef,
            "vf_coef": self.vf_coef, "max_grad_norm": self.max_grad_norm,
            "use_rms_prop": self.use_rms_prop, "rms_prop_eps": self.rms_prop_eps,
            "normalize_advantage": self.normalize_advantage, "policy_kwargs": policy_kwargs,
        }


#: Algorithm name -> config class (the algorithm classes live in :mod:`agents.algos`).
CONFIGS: dict[str, type] = {"a2c": A2CConfig}


def _check(cfg: Any, names: tuple[str, ...], ok, what: str) -> None:
    for name in names:
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not ok(value):
            raise ConfigError(f"{type(cfg).__name__}.{name} must be {what}, got {value!r}")


def _positive_int(cfg: Any, *names: str) -> None:
    _check(cfg, names, lambda v: isinstance(v, int) and v >= 1, "an int >= 1")


def _positive(cfg: Any, *names: str) -> None:
    _check(cfg, names, lambda v: math.isfinite(v) and v > 0, "a number > 0")


def _nonnegative(cfg: Any, *names: str) -> None:
    _check(cfg, names, lambda v: math.isfinite(v) and v >= 0, "a number >= 0")


def _probability(cfg: Any, *names: str) -> None:
    _check(cfg, names, lambda v: 0 <= v <= 1, "in [0, 1]")


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot read hyperparameter file {path}: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"hyperparameter file {path} must be a mapping of field: value")
    return data


def _apply(cfg: Any, values: dict[str, Any], origin: str) -> Any:
    names = {f.name for f in fields(cfg)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(
            f"{origin}: unknown {type(cfg).__name__} field(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(names))}"
        )
    return dataclasses.replace(cfg, **values)


def load_config(algo: str, preset: str, path: str | Path | None = None,
                overrides: dict[str, Any] | None = None) -> Any:
    """The ``preset`` hyperparameters of ``algo``, updated from ``path`` then ``overrides``.

    Raises:
        ConfigError: unknown algorithm or preset, unreadable file, unknown field
            or invalid value.
    """
    if algo not in CONFIGS:
        raise ConfigError(f"unknown algorithm {algo!r}; available: {', '.join(sorted(CONFIGS))}")
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; available: {', '.join(PRESETS)}")
    cfg = CONFIGS[algo]()
    shipped = _read_yaml(CONFIG_DIR / f"{algo}.yml")
    cfg = _apply(cfg, shipped.get(preset) or {}, f"{algo}.yml [{preset}]")
    if path is not None:
        user = _read_yaml(Path(path))
        flat = {k: v for k, v in user.items() if k not in PRESETS}
        cfg = _apply(cfg, flat, str(path))
        cfg = _apply(cfg, user.get(preset) or {}, f"{path} [{preset}]")
    if overrides:
        cfg = _apply(cfg, overrides, "overrides")
    cfg.validate()
    return cfg
