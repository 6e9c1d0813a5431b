"""Hyperparameters: one typed dataclass per algorithm, presets in ``configs/<algo>.yml``.

Each YAML file has one section per preset: ``atari`` (pixel games), ``objects``
(Atari games observed as object vectors, :mod:`envs.slots`: an MLP instead of the
Nature CNN) and ``classic`` (classic-control tasks such as CartPole).  A user YAML file given
with ``--config`` overrides fields of the chosen preset, either at the top
level or under the same preset names.  Unknown fields are an error (a typo
would otherwise silently train with the default).

Example:
    >>> from agents.algorithms.config import load_config
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
PRESETS = ("atari", "objects", "classic")


class ConfigError(ValueError):
    """A hyperparameter file or value is invalid."""


@dataclass
class OnPolicyConfig:
    """Settings shared by the on-policy actor-critics (A2C, PPO).

    Attributes:
        policy: SB3 policy: ``CnnPolicy`` for pixels, ``MlpPolicy`` for vectors.
        n_envs: Parallel environments.
        n_steps: Steps per environment per update (rollout length).
        learning_rate: Optimiser step size (initial value when ``lr_schedule`` is linear).
        lr_schedule: ``constant``, or ``linear`` decay to 0 over the run.
        anneal_after: Fraction of the run, in [0, 1), during which the ``linear`` schedules
            (this class's learning rate, PPO's clip range) hold their initial value before
            decaying linearly to 0 at the end (0 = decay from the first step, SB3's).  A
            constant start learns Skiing faster; the decay stops its late drift.
        gamma: Discount factor.
        gae_lambda: GAE lambda (1.0 = plain n-step returns).
        ent_coef: Entropy bonus coefficient.
        vf_coef: Value loss coefficient.
        max_grad_norm: Gradient norm clipping.
        normalize_advantage: Normalise advantages per batch.
        normalize_reward: Scale rewards by a running std of returns
            (``VecNormalize``); ``None`` = on when the game's rewards are not
            clipped (Skiing's per-frame time penalties are large).
        net_arch: Hidden layer sizes of the MLP policy (``MlpPolicy`` only);
            empty = SB3's default.
        ortho_init: Orthogonal initialisation of the networks.
        value_head: ``scalar`` (MSE regression, SB3's) or ``hl_gauss`` (cross-entropy
            on a histogram, :mod:`agents.algorithms.hlgauss`).
        hl_v_min: Lower end of the HL-Gauss support: below every return the critic must
            represent (returns outside are clamped; ``train/hl_clamped_fraction``).  The
            default, [-110, 110] in 441 bins, is the Atari presets' support (pixels and
            objects; the ``classic`` presets set CartPole's), defined here only.
        hl_v_max: Upper end of the HL-Gauss support.
        hl_bins: Number of HL-Gauss bins.
        hl_sigma_ratio: HL-Gauss smoothing std as a fraction of the bin width.
    """

    policy: str = "CnnPolicy"
    n_envs: int = 16
    n_steps: int = 5
    learning_rate: float = 7e-4
    lr_schedule: str = "constant"
    anneal_after: float = 0.0
    gamma: float = 0.99
    gae_lambda: float = 1.0
    ent_coef: float = 0.01
    vf_coef: float = 0.25
    max_grad_norm: float = 0.5
    normalize_advantage: bool = False
    normalize_reward: bool | None = None
    net_arch: list[int] = field(default_factory=list)
    ortho_init: bool = True
    value_head: str = "scalar"
    # The Atari support holds every discounted return of rewards in [-1, 1] (|G| <= 1 / (1 -
    # gamma) = 100; Skiing with clipped rewards sits at -100) with a margin, in bins of 0.5.
    # Skiing's normalised returns reach about -45 before its missed-gate penalty
    # (benchmarks/value_scale.py); the old [-20, 20] clamped 4% of them.  What real Skiing
    # runs clamp: benchmarks/hl_clamped.py (benchmarks/RESULTS.md).
    hl_v_min: float = -110.0
    hl_v_max: float = 110.0
    hl_bins: int = 441
    hl_sigma_ratio: float = 0.75

    def validate(self) -> None:
        """Raise :class:`ConfigError` on values that cannot train."""
        _positive_int(self, "n_envs", "n_steps", "hl_bins")
        _positive(self, "hl_sigma_ratio")
        if self.value_head not in ("scalar", "hl_gauss"):
            raise ConfigError(f"value_head must be scalar or hl_gauss, got {self.value_head!r}")
        if not self.hl_v_max > self.hl_v_min:
            raise ConfigError(f"hl_v_max must exceed hl_v_min, got [{self.hl_v_min}, {self.hl_v_max}]")
        _probability(self, "gamma", "gae_lambda")
        _nonnegative(self, "ent_coef", "vf_coef")
        _positive(self, "learning_rate", "max_grad_norm")
        if self.policy not in ("CnnPolicy", "MlpPolicy"):
            raise ConfigError(f"policy must be CnnPolicy or MlpPolicy, got {self.policy!r}")
        if self.lr_schedule not in ("constant", "linear"):
            raise ConfigError(f"lr_schedule must be constant or linear, got {self.lr_schedule!r}")
        if not 0.0 <= self.anneal_after < 1.0:
            # At 1 the decay would never start (use a constant schedule for that).
            raise ConfigError(f"anneal_after must be in [0, 1), got {self.anneal_after!r}")

    def _policy_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"ortho_init": self.ortho_init}
        if self.net_arch:
            kwargs["net_arch"] = list(self.net_arch)
        if self.value_head == "hl_gauss":
            kwargs.update(hl_v_min=self.hl_v_min, hl_v_max=self.hl_v_max, hl_bins=self.hl_bins,
                          hl_sigma_ratio=self.hl_sigma_ratio)
        return kwargs

    def _common_kwargs(self) -> dict[str, Any]:
        return {
            "policy": self.policy, "n_steps": self.n_steps,
            "learning_rate": schedule(self.learning_rate, self.lr_schedule, self.anneal_after),
            "gamma": self.gamma, "gae_lambda": self.gae_lambda, "ent_coef": self.ent_coef,
            "vf_coef": self.vf_coef, "max_grad_norm": self.max_grad_norm,
            "normalize_advantage": self.normalize_advantage,
            "policy_kwargs": self._policy_kwargs(),
        }

def schedule(value: float, kind: str, hold: float = 0.0):
    """A constant, or a linear decay to 0 at the end of the run after holding ``value``.

    Args:
        value: The initial (and, for ``constant``, every) value.
        kind: ``constant`` or ``linear``.
        hold: Fraction of the run spent at ``value`` before a ``linear`` decay starts.

    Returns:
        ``value`` itself for ``constant`` (SB3 wraps it), else a callable of SB3's
        ``progress_remaining`` (1 at the start, 0 at the end).

    Example:
        >>> schedule(0.1, "linear")(0.5)
        0.05
        >>> s = schedule(0.1, "linear", hold=0.5)
        >>> s(0.75), s(0.25)
        (0.1, 0.05)
    """
    if kind == "constant":
        return value
    if hold == 0.0:
        from stable_baselines3.common.utils import LinearSchedule

        return LinearSchedule(value, 0.0, 1.0)
    return HoldThenLinear(value, hold)


@dataclass(frozen=True)
class HoldThenLinear:
    """``value`` for the first ``hold`` of the run, then linear to 0 at its end.

    A class rather than a closure so that SB3 can pickle it into checkpoints.
    """

    value: float
    hold: float

    def __call__(self, progress_remaining: float) -> float:
        # progress_remaining falls from 1 to 0; the decay spans the last 1 - hold of it.
        return self.value * min(1.0, max(0.0, progress_remaining) / (1.0 - self.hold))

@dataclass
class A2CConfig(OnPolicyConfig):
    """Synchronous advantage actor-critic (SB3 ``A2C``), rl-baselines3-zoo settings.

    Attributes (besides :class:`OnPolicyConfig`'s):
        use_rms_prop: RMSprop (True) or Adam.
        rms_prop_eps: RMSprop epsilon.
        rms_prop_tf_like: Use SB3's TensorFlow-like RMSprop, as the zoo does for Atari.
    """

    use_rms_prop: bool = True
    rms_prop_eps: float = 1e-5
    rms_prop_tf_like: bool = True

    def validate(self) -> None:
        super().validate()
        _positive(self, "rms_prop_eps")

    def sb3_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``stable_baselines3.A2C``."""
        kwargs = self._common_kwargs()
        if self.use_rms_prop and self.rms_prop_tf_like:
            from stable_baselines3.common.sb2_compat.rmsprop_tf_like import RMSpropTFLike

            kwargs["policy_kwargs"]["optimizer_class"] = RMSpropTFLike
            kwargs["policy_kwargs"]["optimizer_kwargs"] = {"eps": self.rms_prop_eps}
        return dict(kwargs, use_rms_prop=self.use_rms_prop, rms_prop_eps=self.rms_prop_eps)

@dataclass
class PPOConfig(OnPolicyConfig):
    """Proximal policy optimisation (SB3 ``PPO``), rl-baselines3-zoo settings.

    Attributes (besides :class:`OnPolicyConfig`'s):
        batch_size: Minibatch size.
        n_epochs: Passes over each rollout.
        clip_range: Policy ratio clipping (initial value when ``clip_schedule`` is linear).
        clip_schedule: ``constant`` or ``linear`` decay to 0.
    """

    n_envs: int = 8
    n_steps: int = 128
    learning_rate: float = 2.5e-4
    lr_schedule: str = "linear"
    gae_lambda: float = 0.95
    vf_coef: float = 0.5
    normalize_advantage: bool = True
    batch_size: int = 256
    n_epochs: int = 4
    clip_range: float = 0.1
    clip_schedule: str = "linear"

    def validate(self) -> None:
        super().validate()
        _positive_int(self, "batch_size", "n_epochs")
        _positive(self, "clip_range")
        if self.clip_schedule not in ("constant", "linear"):
            raise ConfigError(f"clip_schedule must be constant or linear, got {self.clip_schedule!r}")
        if self.batch_size > self.n_steps * self.n_envs:
            # SB3 would train on a truncated minibatch and warn; refuse instead.
            raise ConfigError(f"batch_size {self.batch_size} exceeds the rollout size "
                              f"n_steps * n_envs = {self.n_steps * self.n_envs}")

    def sb3_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``stable_baselines3.PPO``."""
        return dict(self._common_kwargs(), batch_size=self.batch_size, n_epochs=self.n_epochs,
                    clip_range=schedule(self.clip_range, self.clip_schedule, self.anneal_after))

@dataclass
class PGConfig(A2CConfig):
    """Vanilla policy gradient (REINFORCE / GPOMDP, :mod:`agents.algorithms.pg`).

    Attributes (besides :class:`A2CConfig`'s; ``gae_lambda`` must be 1):
        baseline: ``none``, ``mean`` (batch mean of the returns) or ``value`` (learned).
    """

    n_steps: int = 128
    baseline: str = "value"

    def validate(self) -> None:
        super().validate()
        if self.baseline not in ("none", "mean", "value"):
            raise ConfigError(f"baseline must be none, mean or value, got {self.baseline!r}")
        if self.gae_lambda != 1.0:
            # Reward-to-go is the Monte-Carlo return; lambda < 1 would mix in value estimates.
            raise ConfigError(f"pg needs gae_lambda = 1, got {self.gae_lambda}")
        if self.value_head != "scalar":
            raise ConfigError("pg supports value_head: scalar only")

    def sb3_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :class:`agents.algorithms.pg.PG`."""
        kwargs = super().sb3_kwargs()
        kwargs.pop("gae_lambda")
        return dict(kwargs, baseline=self.baseline)

@dataclass
class DLACConfig(A2CConfig):
    """Double-loop actor-critic (:mod:`agents.algorithms.dlac`).

    Attributes (besides :class:`A2CConfig`'s; ``learning_rate`` is the actor's):
        critic_steps: TD(0) critic passes per rollout (K).
        critic_learning_rate: Critic step size.
    """

    critic_steps: int = 5
    critic_learning_rate: float = 1e-3
    use_rms_prop: bool = False
    rms_prop_tf_like: bool = False

    def validate(self) -> None:
        super().validate()
        _positive_int(self, "critic_steps")
        _positive(self, "critic_learning_rate")
        if self.value_head != "scalar":
            raise ConfigError("dlac supports value_head: scalar only")

    def sb3_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :class:`agents.algorithms.dlac.DLAC`."""
        return dict(super().sb3_kwargs(), critic_steps=self.critic_steps,
                    critic_learning_rate=self.critic_learning_rate)

@dataclass
class OffPolicyConfig:
    """Settings shared by the replay-based algorithms (QR-DQN, DSAC).

    Attributes:
        policy: ``CnnPolicy`` or ``MlpPolicy``.
        n_envs: Parallel environments.
        learning_rate: Adam step size.
        buffer_size: Replay capacity in transitions (1e5 Atari frames are
            ~2.8 GB; the zoo's 1e6 would need ~28 GB).
        optimize_memory_usage: Store each frame once in the replay buffer.  Time-limit
            truncations are bootstrapped either way
            (:class:`agents.algorithms.buffers.TimeoutReplayBuffer`).
        learning_starts: Steps collected before the first update.
        batch_size: Minibatch size.
        gamma: Discount factor.
        train_freq: Environment steps between updates.
        gradient_steps: Gradient steps per update.
        net_arch: Hidden layers after the features (empty = the algorithm's default).
        normalize_reward: As for :class:`OnPolicyConfig`.
        save_replay_buffer: Store the replay buffer with every checkpoint, so a
            resumed run continues with it (large for Atari).
    """

    policy: str = "CnnPolicy"
    n_envs: int = 1
    learning_rate: float = 3e-4
    buffer_size: int = 100_000
    optimize_memory_usage: bool = False
    learning_starts: int = 1000
    batch_size: int = 64
    gamma: float = 0.99
    train_freq: int = 1
    gradient_steps: int = 1
    net_arch: list[int] = field(default_factory=list)
    normalize_reward: bool | None = None
    save_replay_buffer: bool = False

    def validate(self) -> None:
        """Raise :class:`ConfigError` on values that cannot train."""
        _positive_int(self, "n_envs", "buffer_size", "batch_size", "train_freq", "gradient_steps")
        _check(self, ("learning_starts",), lambda v: isinstance(v, int) and v >= 0, "an int >= 0")
        _positive(self, "learning_rate")
        _probability(self, "gamma")
        if self.policy not in ("CnnPolicy", "MlpPolicy"):
            raise ConfigError(f"policy must be CnnPolicy or MlpPolicy, got {self.policy!r}")

    def _common_kwargs(self) -> dict[str, Any]:
        from agents.algorithms.buffers import TimeoutReplayBuffer

        return {
            "policy": self.policy, "learning_rate": self.learning_rate,
            "buffer_size": self.buffer_size, "optimize_memory_usage": self.optimize_memory_usage,
            # Episodes cut at the frame limit are bootstrapped, not valued as deaths, also
            # with the memory-optimised buffer (SB3's own cannot do both).
            "replay_buffer_class": TimeoutReplayBuffer,
            "replay_buffer_kwargs": {"handle_timeout_termination": True},
            "learning_starts": self.learning_starts, "batch_size": self.batch_size,
            "gamma": self.gamma, "train_freq": self.train_freq,
            "gradient_steps": self.gradient_steps,
        }

@dataclass
class QRDQNConfig(OffPolicyConfig):
    """Quantile-regression DQN (sb3-contrib ``QRDQN``), rl-baselines3-zoo settings.

    Attributes (besides :class:`OffPolicyConfig`'s):
        n_quantiles: Quantiles of the return distribution.
        target_update_interval: Steps between target-network copies.
        exploration_fraction: Fraction of the run over which epsilon decays.
        exploration_final_eps: Final epsilon.
    """

    learning_rate: float = 5e-5
    learning_starts: int = 100
    batch_size: int = 32
    train_freq: int = 4
    n_quantiles: int = 200
    target_update_interval: int = 10_000
    exploration_fraction: float = 0.025
    exploration_final_eps: float = 0.01

    def validate(self) -> None:
        super().validate()
        _positive_int(self, "n_quantiles", "target_update_interval")
        _probability(self, "exploration_fraction", "exploration_final_eps")

    def sb3_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``sb3_contrib.QRDQN``."""
        policy_kwargs: dict[str, Any] = {"n_quantiles": self.n_quantiles}
        if self.net_arch:
            policy_kwargs["net_arch"] = list(self.net_arch)
        return dict(self._common_kwargs(), target_update_interval=self.target_update_interval,
                    exploration_fraction=self.exploration_fraction,
                    exploration_final_eps=self.exploration_final_eps, policy_kwargs=policy_kwargs)

@dataclass
class DSACConfig(OffPolicyConfig):
    """Discrete DSAC-T (:mod:`agents.algorithms.dsac`).

    Attributes (besides :class:`OffPolicyConfig`'s):
        tau: Polyak rate of the target critics.
        tau_b: Rate of the running mean of sigma (clipping boundary, gradient weights).
        policy_delay: Critic steps per actor / temperature / target update.
        target_entropy_ratio: kappa: target entropy ``kappa * log |A|``.
        initial_alpha: Starting temperature.
    """

    net_arch: list[int] = field(default_factory=lambda: [256, 256])
    tau: float = 0.005
    tau_b: float = 0.005
    policy_delay: int = 2
    target_entropy_ratio: float = 0.89
    initial_alpha: float = 0.1

    def validate(self) -> None:
        super().validate()
        _positive_int(self, "policy_delay")
        _positive(self, "initial_alpha")
        _probability(self, "tau", "tau_b", "target_entropy_ratio")

    def sb3_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :class:`agents.algorithms.dsac.DSAC`."""
        return dict(self._common_kwargs(), tau=self.tau, tau_b=self.tau_b,
                    policy_delay=self.policy_delay,
                    target_entropy_ratio=self.target_entropy_ratio,
                    initial_alpha=self.initial_alpha,
                    policy_kwargs={"net_arch": list(self.net_arch)})

#: Algorithm name -> config class (the algorithm classes: :mod:`agents.algorithms.registry`).
CONFIGS: dict[str, type] = {"a2c": A2CConfig, "ppo": PPOConfig, "pg": PGConfig,
                             "dlac": DLACConfig, "qrdqn": QRDQNConfig, "dsac": DSACConfig}

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
