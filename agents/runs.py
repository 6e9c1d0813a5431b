"""A run directory's settings, shared by the command-line tools.

``agents.train`` writes a run's :class:`RunConfig` to ``config.yaml``;
``agents.train --resume``, ``agents.evaluate`` and ``agents.report`` read it
back with :func:`read_run_config`.  Keeping these pieces here lets each CLI
import them without importing another CLI.

Example:
    >>> cfg = RunConfig.from_dict({"game": "Pong", "env": {"frame_skip": 2}})
    >>> cfg.algo, cfg.env.frame_skip
    ('a2c', 2)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agents.environments import EnvSettings, Target
from agents.scores import reference_scores

CONFIG_FILE = "config.yaml"
TABLE_FILE = "reward_table.json"


class TrainError(RuntimeError):
    """A run cannot start or continue; the message says why."""


#: Reasoning backends a training run can read its table with: the offline ones
#: (``openai`` needs a server and its options; build that table with ``reward_shaping.read``).
READERS = ("consequence", "embedding", "consensus")
#: The reader of a shaped run that names none: ``reward_shaping.reasoning.DEFAULT_BACKEND``
#: (kept here, not imported, so that reading a run's config loads no model code).
DEFAULT_READER = "consensus"


@dataclass
class RunConfig:
    """Everything that defines a run; written to ``config.yaml`` in the run directory.

    Attributes:
        game: Atari game name or Gymnasium env id, as given.
        algo: Algorithm name (see :data:`agents.algorithms.registry.ALGOS`).
        shaping: ``manual`` (reward table from the manual) or ``none``.
        shaping_mode: How manual shaping pays (:data:`reward_shaping.wrappers.SHAPING_MODES`):
            ``bonus`` (the table's reward added per event, the paper's), ``positive``
            (its positive events only), ``positive_first`` (negatives fade in once the
            agent moves), ``potential`` (a history potential with the agent's gamma) or
            ``proximity`` (a Markov potential from the objects near the avatar),
            ``proximity_positive`` (that potential from the table's rewards and places
            only) or ``proximity_contact`` (that, and the penalties paid per contact); see
            :mod:`reward_shaping.wrappers`.  Runs recorded before the field existed
            used ``bonus``.
        negative_ramp: ``positive_first``: steps over which negative events fade in
            once the agent moves.
        proximity_radius: The proximity modes: pixels at which an object stops counting.
        pay_cap: Rewards one object instance can earn per episode, 0 for no cap (with 1,
            an object touched again and again, a full submarine's diver, a pill the box
            grazes, pays once: contacts cannot be farmed).  Penalties are never capped.
        penalty_veto: Steps, the contact's own included, in which a positive game reward
            waives the table's penalty for the contact (0: off): a monkey punched for
            points, a blue ghost eaten (see :mod:`reward_shaping.wrappers`).
        life_penalty: Subtracted from the reward of each step in which a life is lost, 0
            for off (:class:`reward_shaping.wrappers.LifeLossPenalty`; any shaping, Atari
            only).  It reads no manual: the control for a table's death penalties.
        normalize_by: Where the reward normaliser's return std comes from, when rewards
            are normalised: ``shaped`` (the reward the agent gets, plain
            ``VecNormalize``) or ``game`` (the game reward alone,
            :class:`~reward_shaping.wrappers.GameScaleNormalize`; manual shaping only).
        reward_processing: What happens to the game's reward before the agent sees
            it (:data:`REWARD_PROCESSING`): ``sign`` (clipped to -1, 0, +1, DQN's),
            ``normalize`` (divided by a running std of the return, never clipped) or
            ``raw``.  The auxiliary reward is added after clipping and before
            normalisation.  Resolved when the run starts; ``None`` in runs recorded
            before the field existed (see :func:`reward_processing_of`).
        steps: Total environment steps (all environments together).
        seed: Seed of the model, environments and RNGs.
        device: ``auto``, ``cpu`` or ``cuda`` (``cuda:N``).
        vec_env: ``auto``, ``dummy`` (in-process) or ``subproc`` (one process per env).
        save_every: Checkpoint period in environment steps.
        eval_episodes: Episodes of the final evaluation (0 = none).
        eval_mode: Actions of the final evaluation (:data:`EVAL_MODES`): ``greedy`` (the
            policy's most likely action) or ``sampled`` (drawn from the policy).  Resolved
            when the run starts (:func:`default_eval_mode` unless given); ``None`` in runs
            recorded before the field existed (see :meth:`from_dict`, :func:`eval_mode_of`).
        manual: A user manual file instead of the shipped one.
        reader: The offline reasoning backend that reads the table from the manual
            (:data:`READERS`): ``consensus`` (the default: pays only where the other two
            agree; on real manuals fewer right answers and far fewer wrong signs and paid
            neutral objects), ``consequence`` or ``embedding``.  Shaped runs recorded
            before the field existed read with ``consequence`` (see :meth:`from_dict`).
        overrides: YAML/JSON file fixing reward-table entries.
        aux_scale: Multiplier of the table's rewards.
        anneal_steps: Steps over which the auxiliary weight decays (0 = constant).
        final_weight: Auxiliary weight after annealing, as a fraction.
        hparams_file: User hyperparameter YAML (overrides the preset).
        env: Environment settings.
        hparams: The algorithm's resolved hyperparameters (filled in at start).
    """

    game: str
    algo: str = "a2c"
    shaping: str = "manual"
    shaping_mode: str = "bonus"
    negative_ramp: int = 1_000_000
    proximity_radius: float = 32.0
    pay_cap: int = 0
    penalty_veto: int = 0
    life_penalty: float = 0.0
    normalize_by: str = "shaped"
    reward_processing: str | None = None
    steps: int = 0
    seed: int = 0
    device: str = "auto"
    vec_env: str = "auto"
    save_every: int = 100_000
    eval_episodes: int = 10
    eval_mode: str | None = None
    manual: str | None = None
    reader: str = DEFAULT_READER
    overrides: str | None = None
    aux_scale: float = 1.0
    anneal_steps: int = 0
    final_weight: float = 0.0
    hparams_file: str | None = None
    env: EnvSettings = field(default_factory=EnvSettings)
    hparams: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """A config from its ``config.yaml`` mapping.

        Runs recorded before ``eval_mode`` existed have ``eval_deterministic``: ``true``
        was a choice (``--eval-deterministic``) and becomes ``greedy``; ``false`` was the
        default of every algorithm then, not a choice, and leaves the mode to
        :func:`default_eval_mode`.  Shaped runs recorded before ``reader`` existed read
        their table with ``consequence``, the only offline reader then; unshaped runs read
        none and take the default.

        Example:
            >>> RunConfig.from_dict({"game": "Pong", "eval_deterministic": True}).eval_mode
            'greedy'
            >>> RunConfig.from_dict({"game": "Pong"}).reader
            'consequence'
            >>> RunConfig.from_dict({"game": "Pong", "shaping": "none"}).reader
            'consensus'
        """
        data = dict(data)
        if "reader" not in data and data.get("shaping", "manual") == "manual":
            data["reader"] = "consequence"
        env = EnvSettings(**data.pop("env", {}))
        if data.pop("eval_deterministic", False) and data.get("eval_mode") is None:
            data["eval_mode"] = "greedy"
        return cls(env=env, **data)



#: How the game's reward is processed (``RunConfig.reward_processing``), with what it does.
REWARD_PROCESSING = {
    "sign": "each game reward clipped to -1, 0 or +1",
    "normalize": "game reward divided by a running std of the return (not clipped)",
    "raw": "game reward as the game pays it",
}


def default_reward_processing(choice: str, target: Any, normalize_reward: bool | None) -> str:
    """Resolve ``--reward-processing`` for a new run.

    ``auto`` is the game's default for Atari games (``sign``, or ``normalize`` where
    clipping erases the signal: Skiing), and ``raw`` for other environments; a
    hyperparameter file's ``normalize_reward`` decides normalisation under ``auto``.

    Raises:
        TrainError: an unknown choice, or one that contradicts ``normalize_reward``.
    """
    if choice != "auto" and choice not in REWARD_PROCESSING:
        raise TrainError(f"--reward-processing must be auto or one of "
                         f"{', '.join(REWARD_PROCESSING)}, got {choice!r}")
    clip_default = bool(target.atari and target.spec.clip_reward_default)
    if choice == "auto":
        if normalize_reward:
            return "normalize"
        if normalize_reward is None and target.atari and not clip_default:
            return "normalize"
        return "sign" if clip_default else "raw"
    if normalize_reward is not None and normalize_reward != (choice == "normalize"):
        # Two settings would disagree about normalisation; neither may win silently.
        raise TrainError(f"--reward-processing {choice} contradicts the hyperparameters' "
                         f"normalize_reward: {normalize_reward}")
    return choice


def reward_processing_of(cfg: RunConfig, target: Any, normalize_reward: bool | None) -> str:
    """What a run does to the game reward: its field, or for runs recorded before it
    existed, what their clipping and normalisation settings did."""
    if cfg.reward_processing is not None:
        return cfg.reward_processing
    clip = cfg.env.clip_reward
    if clip is None:
        clip = bool(target.atari and target.spec.clip_reward_default)
    normalize = normalize_reward if normalize_reward is not None else \
        bool(target.atari and not clip)
    if clip:
        return "sign+normalize" if normalize else "sign"
    return "normalize" if normalize else "raw"


#: Actions of a run's final evaluation (``RunConfig.eval_mode``), with what they are.
EVAL_MODES = {
    "greedy": "the policy's most likely action",
    "sampled": "actions drawn from the policy",
}
#: Algorithms evaluated greedily in every environment.  QR-DQN's sampled action is
#: epsilon-greedy (its exploration, not its policy).  DSAC's temperature holds its policy's
#: entropy at 0.89 log|A| while it trains: on Skiing's 3 actions the best one gets about
#: 57%, so a sampled score measures a nearly uniform policy, not what the critics learned.
GREEDY_EVAL_ALGOS = ("qrdqn", "dsac")


def default_eval_mode(algo: str, target: Any) -> str:
    """The evaluation mode of ``algo`` on ``target`` when a run does not choose one.

    ``greedy`` for :data:`GREEDY_EVAL_ALGOS`.  The actor-critics (``a2c``, ``ppo``, ``pg``,
    ``dlac``) follow rl-baselines3-zoo: greedy except on Atari games, which are evaluated
    with sampled actions (``rl_zoo3/exp_manager.py``: ``self.deterministic_eval = not
    self.is_atari(env_id)``, passed to its ``EvalCallback``; ``rl_zoo3/enjoy.py``:
    "Deterministic by default except for atari games").  The zoo's rule is about the
    game, so an Atari game observed as objects counts as Atari.

    Example:
        >>> from types import SimpleNamespace
        >>> atari, cartpole = SimpleNamespace(atari=True), SimpleNamespace(atari=False)
        >>> default_eval_mode("dsac", atari), default_eval_mode("ppo", atari)
        ('greedy', 'sampled')
        >>> default_eval_mode("ppo", cartpole)
        'greedy'
    """
    if algo in GREEDY_EVAL_ALGOS:
        return "greedy"
    return "sampled" if target.atari else "greedy"


def eval_mode_of(cfg: RunConfig, target: Any) -> str:
    """A run's evaluation mode: its field, or for runs recorded before it existed (and not
    resumed since), its algorithm's default."""
    return cfg.eval_mode if cfg.eval_mode is not None else default_eval_mode(cfg.algo, target)


def preset_for(target: Any, obs: str) -> str:
    """The hyperparameter preset of a run: ``atari`` (pixels), ``objects`` (Atari object
    vectors, :mod:`envs.slots`) or ``classic`` (other Gymnasium envs)."""
    if not target.atari:
        return "classic"
    return "objects" if obs == "objects" else "atari"


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` if available else ``cpu``; CUDA requested without a GPU is an error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise TrainError(f"--device {device} but no CUDA GPU is available to torch "
                             f"(torch {torch.__version__}); use --device cpu or auto")
        return device
    if device == "cpu":
        return device
    raise TrainError(f"--device must be auto, cpu or cuda[:N], got {device!r}")


def read_run_config(run_dir: Path) -> RunConfig:
    """The :class:`RunConfig` a run directory was started with.

    Raises:
        TrainError: no ``config.yaml`` (not a run directory), or an unreadable one.
    """
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise TrainError(f"{run_dir} is not a run directory (no {CONFIG_FILE})")
    try:
        return RunConfig.from_dict(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (yaml.YAMLError, TypeError, AttributeError, UnicodeDecodeError) as err:
        raise TrainError(f"{path} is corrupt ({err})") from None


def episode_step_limit(cfg: RunConfig, target: Target) -> int | None:
    """The agent steps after which an episode ends whatever the agent does (what a stalled
    agent runs into): the wrapper's ``max_episode_frames``, or the game's own clock where it
    ends episodes sooner (Skiing's 5 minutes), as the fast path counts steps.  ``None`` for
    non-Atari envs.

    Example:
        >>> from agents.environments import resolve_target
        >>> episode_step_limit(RunConfig(game="Skiing"), resolve_target("Skiing"))
        4500
        >>> episode_step_limit(RunConfig(game="Pong"), resolve_target("Pong"))
        27000
    """
    if not target.atari:
        return None
    frames = cfg.env.max_episode_frames
    if target.spec.game_time_limit_frames is not None:
        frames = min(frames, target.spec.game_time_limit_frames)
    return -(-frames // cfg.env.frame_skip)


def random_score(target: Target) -> float | None:
    """Random play's published score on an Atari game (``agents/scores``), or ``None``.

    Example:
        >>> from agents.environments import resolve_target
        >>> random_score(resolve_target("Skiing"))
        -17098.1
    """
    if not target.atari:
        return None
    score = reference_scores()["random"].get(target.spec.name)
    return None if score is None else float(score)
