"""Train an agent with rewards read from the game's manual: ``python -m agents.train GAME``.

Examples::

    python -m agents.train Skiing                        # Skiing's measured defaults: PPO, objects, Gate:pass
    python -m agents.train Skiing --no-game-defaults     # A2C on pixels, manual shaping, 10M steps
    python -m agents.train Freeway                       # its measured defaults: the far sidewalk as a potential
    python -m agents.train Breakout --shaping none --steps 2e6 --device cuda   # A2C on pixels
    python -m agents.train CartPole-v1 --shaping none --steps 1e5
    python -m agents.train --resume runs/Skiing-a2c-manual-0-20261123-101500

A run directory holds ``config.yaml`` (everything needed to rerun or resume),
``reward_table.json``, ``progress.csv`` and ``tb/`` (metrics), ``episodes.csv``
(every finished episode: game score, auxiliary return, contacts per object),
``checkpoints/`` and, at the end, ``summary.json``.

Exit codes: 0 finished, 2 bad input, 130 stopped by Ctrl-C/SIGTERM after
saving a checkpoint (resume with ``--resume RUN_DIR``).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from agents.algorithms.config import ConfigError, load_config
from agents.algorithms.registry import ALGOS, algorithm_class
from agents.checkpoint import (
    CheckpointError,
    find_checkpoint,
    last_logged_step,
    make_logger,
    save_checkpoint,
    set_rng_state,
)
from agents.cli import HelpFormatter
from agents.environments import EnvSettings, Target, make_vec, resolve_target
from agents.game_defaults import GameDefaults, game_defaults
from agents.health import FLAGS, run_monitor
from agents.runs import (
    CONFIG_FILE,
    DEFAULT_READER,
    EVAL_MODES,
    READERS,
    REWARD_PROCESSING,
    TABLE_FILE,
    RunConfig,
    TrainError,
    default_eval_mode,
    default_reward_processing,
    eval_mode_of,
    preset_for,
    read_run_config,
    resolve_device,
    reward_processing_of,
)
from envs.atari import choose_backend
from envs.fast.envpool_vec import envpool_available
from envs.games import UnknownGameError
from envs.slots import OBS_KINDS, NoObjectsError, SlotLayout
from reward_shaping.wrappers import CONTACT_FREE_MODES, PROXIMITY_MODES, SHAPING_MODES, find_shaper

log = logging.getLogger("agents.train")

STOPPED = 130
#: Where the auxiliary reward enters, per reward processing (printed at the start of a run).
_AUX_NOTE = {"sign": "; the auxiliary reward is added after clipping, at its table value",
             "normalize": "; the auxiliary reward is added before, and divided with it",
             "raw": "; the auxiliary reward is added at its table value"}
DEFAULT_STEPS = {"atari": 10_000_000, "objects": 10_000_000, "classic": 500_000}


def _validate(cfg: RunConfig, target: Target) -> None:
    if cfg.algo not in ALGOS:
        raise TrainError(f"unknown algorithm {cfg.algo!r}; available: {', '.join(sorted(ALGOS))}")
    if cfg.shaping not in ("manual", "none"):
        raise TrainError(f"--shaping must be manual or none, got {cfg.shaping!r}")
    if cfg.shaping_mode not in SHAPING_MODES:
        raise TrainError(f"--shaping-mode must be one of {', '.join(SHAPING_MODES)}, "
                         f"got {cfg.shaping_mode!r}")
    if cfg.reader not in READERS:
        raise TrainError(f"--reader must be one of {', '.join(READERS)}, got {cfg.reader!r}")
    if cfg.normalize_by not in ("shaped", "game"):
        raise TrainError(f"--normalize-by must be shaped or game, got {cfg.normalize_by!r}")
    if not cfg.proximity_radius > 0:
        raise TrainError(f"--proximity-radius must be > 0 pixels, got {cfg.proximity_radius}")
    # A cap below 0 would never pay; 0 means no cap.
    if isinstance(cfg.pay_cap, bool) or not isinstance(cfg.pay_cap, int) or cfg.pay_cap < 0:
        raise TrainError(f"--pay-cap must be a whole number >= 0 (0: no cap), got {cfg.pay_cap!r}")
    # A window below 0 steps means nothing; 0 turns the veto off.
    if isinstance(cfg.penalty_veto, bool) or not isinstance(cfg.penalty_veto, int) \
            or cfg.penalty_veto < 0:
        raise TrainError("--penalty-veto must be a whole number of steps >= 0 (0: off), "
                         f"got {cfg.penalty_veto!r}")
    if cfg.penalty_veto and cfg.shaping_mode in CONTACT_FREE_MODES:
        # These modes pay no event directly: there would be no penalty to waive.
        raise TrainError(f"--penalty-veto applies to the modes that pay events, not "
                         f"--shaping-mode {cfg.shaping_mode}")
    for flag, value, default in (("--shaping-mode", cfg.shaping_mode, "bonus"),
                                 ("--normalize-by", cfg.normalize_by, "shaped"),
                                 ("--pay-cap", cfg.pay_cap, 0),
                                 ("--penalty-veto", cfg.penalty_veto, 0),
                                 ("--reader", cfg.reader, DEFAULT_READER)):
        if cfg.shaping == "none" and value != default:
            # Nothing would be shaped: the flag would be silently ignored.
            raise TrainError(f"{flag} {value} needs --shaping manual")
    # 0 is off; a negative penalty would pay the agent for dying.
    if isinstance(cfg.life_penalty, bool) or not isinstance(cfg.life_penalty, (int, float)) \
            or not math.isfinite(cfg.life_penalty) or cfg.life_penalty < 0:
        raise TrainError(f"--life-penalty must be a number >= 0 (0: off), got {cfg.life_penalty!r}")
    if cfg.life_penalty and not target.atari:
        # Lives are an Atari notion (the emulator reports them).
        raise TrainError(f"--life-penalty needs an Atari game; {target.env_id} has no lives")
    if cfg.shaping == "manual" and not target.atari:
        # Manual shaping needs the object detector, which exists for Atari games only.
        raise TrainError(f"{target.env_id} is not an Atari game with an object detector; "
                         "use --shaping none")
    if cfg.env.obs not in OBS_KINDS:
        raise TrainError(f"--obs must be one of {', '.join(OBS_KINDS)}, got {cfg.env.obs!r}")
    if cfg.env.obs == "objects":
        # Object observations come from the detector, which exists for Atari games only.
        if not target.atari:
            raise TrainError(f"--obs objects needs an Atari game with an object detector; "
                             f"{target.env_id} is not one")
        if cfg.env.obs_stack < 1:
            raise TrainError(f"--obs-stack must be >= 1, got {cfg.env.obs_stack}")
        try:
            SlotLayout.from_game(target.spec)
        except NoObjectsError as err:
            raise TrainError(f"--obs objects: {err}") from None
    if cfg.normalize_by == "game" and cfg.reward_processing not in (None, "normalize"):
        # Nothing is normalised: the flag would be silently ignored.
        raise TrainError(f"--normalize-by game needs --reward-processing normalize, "
                         f"not {cfg.reward_processing}")
    for name in ("steps", "save_every"):
        if getattr(cfg, name) < 1:
            raise TrainError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(cfg, name)}")
    if cfg.eval_episodes < 0:
        raise TrainError(f"--eval-episodes must be >= 0, got {cfg.eval_episodes}")


def _log_interval(steps: int, hp) -> int:
    """On-policy: updates between log rows (about 200 rows per run, at least every 100
    updates).  Off-policy algorithms count episodes instead: every 4."""
    if not hasattr(hp, "n_steps"):
        return 4
    per_update = hp.n_envs * hp.n_steps
    return int(min(100, max(1, steps // per_update // 200)))


def default_run_dir(cfg: RunConfig, target: Target) -> Path:
    safe = target.name.replace("/", "_")
    shaping = cfg.shaping if cfg.shaping_mode == "bonus" else f"{cfg.shaping}_{cfg.shaping_mode}"
    return Path("runs") / f"{safe}-{cfg.algo}-{shaping}-{cfg.seed}-{time.strftime('%Y%m%d-%H%M%S')}"


class Run:
    """One training run in ``run_dir``: set up, learn, checkpoint, evaluate, summarise."""

    def __init__(self, cfg: RunConfig, run_dir: Path, resume: bool, progress: bool = True) -> None:
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.resume = resume
        self.progress = progress
        self.target = resolve_target(cfg.game)
        self.preset = preset_for(self.target, cfg.env.obs)

    def _hparams(self):
        return load_config(self.cfg.algo, self.preset, self.cfg.hparams_file,
                           self.cfg.hparams or None)

    def _normalize_reward(self, hp) -> bool:
        processing = reward_processing_of(self.cfg, self.target, hp.normalize_reward)
        return processing in ("normalize", "sign+normalize")

    def _reward_table(self, resumed: bool):
        """Build (or load from cache) the table; a resumed run reuses its own copy.

        Resuming must not silently switch tables (a changed manual, backend or
        cache would change the reward mid-run), so it reads ``reward_table.json``.
        """
        from reward_shaping.table import RewardTable, atomic_write_text, build_reward_table

        path = self.run_dir / TABLE_FILE
        if resumed:
            try:
                return RewardTable.from_json(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError, TypeError) as err:
                raise TrainError(f"cannot resume: the run's reward table {path} is missing or "
                                 f"corrupt ({err})") from None
        table = build_reward_table(self.target.name, self.cfg.manual, backend=self.cfg.reader,
                                   overrides=self.cfg.overrides)
        atomic_write_text(path, json.dumps(table.to_json(), indent=1))
        return table

    def build_env(self, hp, table, ckpt=None):
        from stable_baselines3.common.vec_env import VecNormalize

        from reward_shaping.wrappers import GameScaleNormalize, LifeLossPenalty, ManualRewardVecEnv

        proximity = table is not None and self.cfg.shaping_mode in PROXIMITY_MODES
        venv = make_vec(self.target, self.cfg.env, hp.n_envs, self.env_seed,
                        track_objects=table is not None, vec_env=self.cfg.vec_env,
                        objects_in_info=proximity)
        if self.cfg.life_penalty:
            # On the environments themselves, inside the manual shaping: it keeps the
            # game's reward in info for the shaping and its normaliser.
            venv = LifeLossPenalty(venv, self.cfg.life_penalty)
        if table is not None:
            venv = ManualRewardVecEnv(venv, table, scale=self.cfg.aux_scale,
                                      anneal_steps=self.cfg.anneal_steps,
                                      final_weight=self.cfg.final_weight,
                                      mode=self.cfg.shaping_mode, gamma=hp.gamma,
                                      negative_ramp=self.cfg.negative_ramp,
                                      radius=self.cfg.proximity_radius,
                                      pay_cap=self.cfg.pay_cap,
                                      penalty_veto=self.cfg.penalty_veto)
        norm = None
        if self._normalize_reward(hp):
            if ckpt is not None and ckpt.vecnormalize is not None:
                norm = venv = VecNormalize.load(str(ckpt.vecnormalize), venv)
            else:
                # Scaled, never clipped: Skiing pays 500 per missed gate in the episode's last
                # step, 30-40 return stds; SB3's default clip at 10 made 5 missed gates look
                # like 20 and left only the time penalty to learn from.
                by_game = table is not None and self.cfg.normalize_by == "game"
                cls = GameScaleNormalize if by_game else VecNormalize
                norm = venv = cls(venv, norm_obs=False, norm_reward=True, gamma=hp.gamma,
                                  clip_reward=float("inf"))
        return venv, norm

    def execute(self) -> int:
        cfg = self.cfg
        device = resolve_device(cfg.device)
        hp = self._hparams()
        ckpt = find_checkpoint(self.run_dir) if self.resume else None
        if ckpt is not None and ckpt.step >= cfg.steps:
            print(f"{self.run_dir} already reached {ckpt.step} steps (target {cfg.steps}); "
                  "evaluating only")
        table = None
        if cfg.shaping == "manual":
            t0 = time.time()
            table = self._reward_table(resumed=ckpt is not None)
            paid = ", ".join(f"{k} {v.reward:+g}" for k, v in table.objects.items() if v.reward)
            print(f"reward table ({time.time() - t0:.1f}s): {paid or 'every object 0'}")
            places = [c for c in self.target.spec.place_categories if table.reward_of(c)] \
                if self.target.spec and cfg.shaping_mode not in PROXIMITY_MODES else []
            if places:  # read, but only the potential pays a place (envs.games.Place)
                print(f"note: {', '.join(places)} is a place, paid only by the proximity modes "
                      f"({', '.join(PROXIMITY_MODES)}); mode {cfg.shaping_mode} pays it nothing")
        resumes = int(ckpt.state.get("resumes", 0)) + 1 if ckpt else 0
        # A fresh env seed per resume: environments restart, they are not restored.
        self.env_seed = cfg.seed + 10_000 * resumes
        venv, norm = self.build_env(hp, table, ckpt)
        algo_cls = algorithm_class(cfg.algo, hp)
        wall_before = 0.0
        if ckpt is None:
            model = algo_cls(env=venv, seed=cfg.seed, device=device, verbose=0, **hp.sb3_kwargs())
        else:
            try:
                model = algo_cls.load(ckpt.model, env=venv, device=device)
            except Exception as err:
                venv.close()
                raise TrainError(f"cannot load {ckpt.model}: {err}") from err
            if ckpt.replay_buffer is not None:
                model.load_replay_buffer(ckpt.replay_buffer)
            set_rng_state(ckpt.state["rng"])
            wall_before = float(ckpt.state.get("wall_time", 0.0))
            shaper = find_shaper(venv)
            if shaper is not None:
                shaper.timesteps = int(ckpt.state.get("shaping_timesteps", ckpt.step))
                ramp = ckpt.state.get("shaping_ramp_start")
                shaper.ramp_start = shaper.ramp_start if ramp is None else int(ramp)
            print(f"resuming {self.run_dir} from step {ckpt.step:,}")
        model.set_logger(make_logger(self.run_dir, ckpt.step if ckpt else None))
        # The full config as text in TensorBoard (written with the first log row).
        model.logger.record("run/config", yaml.safe_dump(asdict(cfg), sort_keys=False),
                            exclude=("csv", "stdout", "log", "json"))
        start = time.time()

        def state() -> dict[str, Any]:
            shaper = find_shaper(venv)
            return {"num_timesteps": int(model.num_timesteps), "resumes": resumes,
                    "wall_time": wall_before + time.time() - start,
                    "shaping_timesteps": shaper.timesteps if shaper else 0,
                    "shaping_ramp_start": shaper.ramp_start if shaper else None,
                    "episodes": callback.episodes}

        def save(_model) -> Path:
            return save_checkpoint(self.run_dir, model, norm, state(),
                                   replay_buffer=getattr(hp, "save_replay_buffer", False))

        from agents.callbacks import RunCallback, StopRequest

        stop = StopRequest()
        callback = RunCallback(self.run_dir, cfg.steps, cfg.save_every, save, stop,
                               ckpt.step if ckpt else None, progress=self.progress,
                               health=run_monitor(cfg, self.target))
        if ckpt is not None:  # episode count continues across resumes
            callback.episodes = int(ckpt.state.get("episodes", 0))
        backend = cfg.env.backend if self.target.atari else "gymnasium"
        shaping = f"{cfg.shaping}/{cfg.shaping_mode}" if table is not None else cfg.shaping
        shaping += " shaping"
        if table is not None and cfg.pay_cap:
            shaping += f"; each object's reward paid at most {cfg.pay_cap}x per episode"
        if table is not None and cfg.penalty_veto:
            shaping += (f"; penalties waived when the game pays within {cfg.penalty_veto} "
                        "steps of the contact")
        if cfg.life_penalty:
            shaping += f"; -{cfg.life_penalty:g} per life lost"
        processing = reward_processing_of(cfg, self.target, hp.normalize_reward)
        obs = cfg.env.obs if self.target.atari else "the env's own"
        if self.target.atari and cfg.env.obs == "objects" and cfg.env.obs_stack > 1:
            obs += f" (last {cfg.env.obs_stack} steps)"
        print(f"training {cfg.algo} on {self.target.env_id} ({shaping}) for "
              f"{cfg.steps:,} steps: {hp.n_envs} envs ({backend}), observations: {obs}, "
              f"device {model.device}, run dir {self.run_dir}\n"
              f"reward processing: {processing} ("
              f"{REWARD_PROCESSING.get(processing, 'clipped to its sign, then normalised')}"
              f"{_AUX_NOTE.get(processing, '') if table is not None else ''})", flush=True)
        first_step = model.num_timesteps
        try:
            with stop:
                if model.num_timesteps < cfg.steps:
                    model.learn(cfg.steps - model.num_timesteps, callback=callback,
                                reset_num_timesteps=False,
                                log_interval=_log_interval(cfg.steps, hp))
        finally:
            callback.close()
        # Metrics recorded since the last log row (off-policy runs log every few
        # episodes) get a final row, unless that step already has one.
        if model.logger.name_to_value and last_logged_step(self.run_dir) != model.num_timesteps:
            model.logger.record("time/total_timesteps", model.num_timesteps, exclude="tensorboard")
            model.logger.dump(step=model.num_timesteps)
        path = save(model)
        elapsed = time.time() - start
        sps = (model.num_timesteps - first_step) / max(elapsed, 1e-9)
        if stop.requested:
            venv.close()
            print(f"stopped at step {model.num_timesteps:,}; checkpoint {path}\n"
                  f"resume with: python -m agents.train --resume {self.run_dir}")
            return STOPPED
        venv.close()
        evaluation = self.evaluate(model, hp) if cfg.eval_episodes else None
        self.write_summary(model, hp, table, state()["wall_time"], sps, callback, evaluation,
                           device)
        return 0

    def evaluate(self, model, hp) -> dict[str, Any]:
        from agents.scores import evaluate_model

        mode = eval_mode_of(self.cfg, self.target)
        print(f"evaluating {self.cfg.eval_episodes} episodes ({mode} actions) ...", flush=True)
        return evaluate_model(model, self.target, self.cfg.env, self.cfg.eval_episodes,
                              n_envs=min(self.cfg.eval_episodes, hp.n_envs),
                              seed=self.cfg.seed + 1_000_000,
                              deterministic=mode == "greedy", vec_env=self.cfg.vec_env)

    def write_summary(self, model, hp, table, wall: float, sps: float, callback, evaluation,
                      device):
        from reward_shaping.table import atomic_write_text

        recent = list(callback.scores)
        if evaluation:
            for message in callback.health.add_evaluation(evaluation["scores"],
                                                          evaluation["lengths"],
                                                          step=int(model.num_timesteps)):
                print(f"warning: {message}", flush=True)
        summary = {
            "game": self.target.name, "env_id": self.target.env_id, "algo": self.cfg.algo,
            "shaping": self.cfg.shaping, "shaping_mode": self.cfg.shaping_mode,
            "seed": self.cfg.seed, "device": device,
            "env_backend": self.cfg.env.backend if self.target.atari else "gymnasium",
            "obs": self.cfg.env.obs if self.target.atari else None,
            "obs_stack": self.cfg.env.obs_stack if self.target.atari else None,
            "reward_processing": reward_processing_of(self.cfg, self.target, hp.normalize_reward),
            "steps": int(model.num_timesteps),
            "frames": int(model.num_timesteps) * (self.cfg.env.frame_skip if self.target.atari else 1),
            "wall_time_s": round(wall, 2), "steps_per_s": round(sps, 1),
            "train_episodes": callback.episodes,
            "train_score_last100": float(sum(recent) / len(recent)) if recent else None,
            "eval_mode": eval_mode_of(self.cfg, self.target),
            "eval": evaluation,
            "reward_table_sha256": table.sha256 if table is not None else None,
            "health": callback.health.report(),
        }
        atomic_write_text(self.run_dir / "summary.json", json.dumps(summary, indent=1))
        raised = [f for f in FLAGS if summary["health"][f]]
        if raised:
            print("flagged: " + "; ".join(f"{f} from step {summary['health'][f]['step']:,}"
                                          for f in raised) + " (summary.json, health)")
        if evaluation:
            hns = evaluation.get("human_normalized")
            extra = f", human-normalized {hns:.3f}" if hns is not None else ""
            print(f"final score over {evaluation['episodes']} episodes: "
                  f"{evaluation['mean']:.1f} +- {evaluation['std']:.1f}{extra}")
        print(f"summary: {self.run_dir / 'summary.json'}")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m agents.train",
        description="Train an RL agent on an Atari game with auxiliary rewards read from its "
        "manual (Read and Reward), or on any Gymnasium env without shaping.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("game", nargs="?", help="Atari game (Skiing, MsPacman, ALE/Pong-v5) or a "
                   "Gymnasium id (CartPole-v1)")
    p.add_argument("--algo", default=None, help=f"algorithm: {', '.join(sorted(ALGOS))} "
                   "(default a2c, or the game's measured default: see --no-game-defaults)")
    p.add_argument("--shaping", default="manual", choices=["manual", "none"],
                   help="manual: +-reward per object contact from the manual's reward table")
    p.add_argument("--steps", type=float, default=None,
                   help="total environment steps (default 1e7 Atari, 5e5 other envs)")
    p.add_argument("--shaping-mode", default=None, choices=list(SHAPING_MODES),
                   help="how manual shaping pays (default bonus, or the game's): bonus adds the table's reward per event (the "
                   "paper's; it changes the task); positive pays only the events the table "
                   "rewards; positive_first fades the negative ones in over --negative-ramp steps "
                   "once the agent moves (its last 20 episodes earned one positive event each); "
                   "potential pays gamma*Phi(s')-Phi(s) with Phi the event reward so far in the "
                   "episode; proximity the same with Phi = sum of the table rewards of the objects "
                   "near the avatar, weighted by closeness (a Markov potential: Ng et al. 1999, "
                   "the optimal policy is kept); proximity_positive the same with the table's "
                   "rewards and places only (penalties unpaid); proximity_contact that potential "
                   "plus the penalties paid per contact, as bonus pays them")
    p.add_argument("--negative-ramp", type=float, default=1_000_000,
                   help="positive_first: steps over which negative events fade in")
    p.add_argument("--proximity-radius", type=float, default=32.0,
                   help="proximity modes: pixels from the avatar at which an object stops counting")
    p.add_argument("--pay-cap", type=float, default=None,
                   help="manual shaping: payments one object instance can earn per episode "
                   "(default 0: no cap, or the game's). With 1 every pill, diver or gate pays "
                   "once, however often it is touched again: contacts cannot be farmed. "
                   "Penalties are never "
                   "capped (a ghost that kills twice costs twice)")
    p.add_argument("--life-penalty", type=float, default=0, metavar="X",
                   help="subtract X from the reward of each step in which a life is lost "
                   "(Atari; with or without manual shaping). Reads no manual: the control "
                   "for a table's death penalties, which the sign-clipped game reward never "
                   "reports. 0: off")
    p.add_argument("--penalty-veto", type=float, default=None, metavar="STEPS",
                   help="manual shaping: a penalty is waived when the game itself pays a "
                   "positive reward in the contact's step or the next STEPS-1 steps (the "
                   "contact scored: a monkey punched, a blue ghost eaten); otherwise it is paid "
                   "STEPS-1 steps late. Default 0: off, or the game's. Only for the modes that "
                   "pay penalties per contact (bonus, positive_first, proximity_contact)")
    p.add_argument("--obs", choices=list(OBS_KINDS), default=None,
                   help="Atari observations: pixels (84x84 grey frames) or objects (every "
                   "detected object as present, x, y, w, h, dx, dy per slot of the game's "
                   "layout: python -m envs.tools.inspect GAME --layout; an MLP learns from it at the "
                   "emulator's speed). Default pixels; a resumed run keeps its own")
    p.add_argument("--obs-stack", type=int, default=None,
                   help="with --obs objects: steps of object vectors per observation (default 1)")
    p.add_argument("--reward-processing", default=None,
                   choices=["auto", *REWARD_PROCESSING],
                   help="what the agent sees of the game reward: sign (clipped to -1/0/+1), "
                   "normalize (divided by a running return std) or raw; the auxiliary reward is "
                   "added after clipping. auto: sign, except normalize for games whose reward "
                   "clipping would erase (Skiing), raw for non-Atari envs")
    p.add_argument("--normalize-by", default="shaped", choices=["shaped", "game"],
                   help="where rewards are normalised (Skiing and other unclipped games): divide "
                   "by the std of the shaped return (shaped) or of the game's return alone "
                   "(game: strong shaping then leaves the game reward's scale as without it)")
    p.add_argument("--n-envs", type=int, help="parallel environments (default: the preset's)")
    p.add_argument("--seed", type=int, default=0, help="seed of model, envs and RNGs")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    p.add_argument("--out", type=Path, help="run directory (default runs/<game>-<algo>-"
                   "<shaping>-<seed>-<time>)")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR",
                   help="continue a run from its latest checkpoint (--steps may raise the target); "
                   "checkpoints are pickles: resume only run directories you trust")
    p.add_argument("--config", type=Path, help="hyperparameter YAML overriding the preset")
    p.add_argument("--value-head", choices=["scalar", "hl_gauss"],
                   help="critic: scalar regression or HL-Gauss histogram (default: the preset's)")
    p.add_argument("--env-backend", default="auto", choices=["auto", "envpool", "gymnasium"],
                   help="Atari environments: envpool (the fast path: emulation and "
                   "preprocessing in C++ threads, contacts once per agent step) or gymnasium "
                   "(Python wrappers, contacts on every emulator frame); auto: envpool where "
                   "it is installed and has a batched object extractor for the game")
    p.add_argument("--vec-env", default="auto", choices=["auto", "dummy", "subproc"],
                   help="gymnasium backend and non-Atari envs: in-process or one process per env")
    p.add_argument("--save-every", type=float, default=100_000, help="checkpoint period in steps")
    p.add_argument("--eval-episodes", type=int, default=10, help="final evaluation episodes")
    modes = p.add_mutually_exclusive_group()
    modes.add_argument("--eval-mode", choices=["auto", *EVAL_MODES], default=None,
                       help="actions of the final evaluation: greedy (the policy's most likely "
                       "action) or sampled. auto: greedy for dsac and qrdqn; for a2c, ppo, pg "
                       "and dlac sampled on Atari games and greedy elsewhere, as "
                       "rl-baselines3-zoo evaluates. Recorded in config.yaml and summary.json; "
                       "with --resume it changes a run's mode")
    modes.add_argument("--eval-deterministic", dest="eval_mode", action="store_const",
                       const="greedy", help="the same as --eval-mode greedy")
    p.add_argument("--max-episode-frames", type=int, default=108_000,
                   help="truncate Atari episodes after this many frames")
    p.add_argument("--manual", help="your own manual file for the reward table")
    p.add_argument("--reader", default=DEFAULT_READER, choices=list(READERS),
                   help="how the table is read from the manual: consensus pays an object "
                   "only where the consequence and embedding readers agree (on real "
                   "third-party manuals, against consequence alone: a third of the wrong "
                   "signs, half the paid neutral objects, fewer right answers; "
                   "benchmarks/RESULTS.md); on the shipped manuals consensus and consequence "
                   "give the same tables")
    p.add_argument("--overrides", help="YAML/JSON {category: reward} fixing table entries")
    p.add_argument("--aux-scale", type=float, default=None,
                   help="multiplier of table rewards (default 1, or the game's measured one: "
                        "Skiing's gate pays 4x)")
    p.add_argument("--anneal-steps", type=float, default=0,
                   help="decay the auxiliary weight linearly over this many steps (0: constant)")
    p.add_argument("--final-weight", type=float, default=0.0,
                   help="auxiliary weight after annealing, as a fraction")
    p.add_argument("--torch-threads", type=int, default=None,
                   help="torch's CPU threads (default: 1 with --obs objects, whose small MLP "
                   "only slows the emulator's threads down with more; torch's own otherwise)")
    p.add_argument("--no-game-defaults", action="store_true",
                   help="ignore the game's measured defaults (agents/game_defaults.py; Skiing: "
                   "--algo ppo --obs objects --reward-processing sign --shaping-mode positive "
                   "--aux-scale 4 --steps 2.5e6, the best arm of the shaping ablation in "
                   "benchmarks/RESULTS.md; Kangaroo, Freeway, Pong and Fishing Derby have theirs) and use the "
                   "generic ones: "
                   "a2c, pixels, the game's reward processing, bonus shaping, 1e7 steps. Each "
                   "game default applies only where its flag is not given")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if args.game is None and args.resume is None:
        p.error("give a GAME to start a run or --resume RUN_DIR to continue one")
    return args


def _steps(value: float | None, flag: str, zero: bool = False) -> int | None:
    if value is None:
        return None
    if value != int(value) or value < (0 if zero else 1):
        raise TrainError(f"{flag} must be a whole number >= {0 if zero else 1}, got {value:g}")
    return int(value)


GENERIC_DEFAULTS = {"algo": "a2c", "obs": "pixels", "reward_processing": "auto",
                    "shaping_mode": "bonus", "aux_scale": 1.0, "steps": None, "pay_cap": 0,
                    "penalty_veto": 0}
#: Options that mean something only with manual shaping: an unshaped run records the generic value.
_SHAPING_DEFAULTS = ("shaping_mode", "aux_scale", "pay_cap", "penalty_veto")


def _apply_game_defaults(args: argparse.Namespace, recipe: GameDefaults | None) -> dict[str, Any]:
    """Fill the options the user left unset, from the game's measured defaults where it has
    them (``recipe``, :mod:`agents.game_defaults`; ``None`` with ``--no-game-defaults``) and
    the generic ones otherwise; returns what the game's defaults set."""
    taken: dict[str, Any] = {}
    for name, generic in GENERIC_DEFAULTS.items():
        if getattr(args, name) is not None:
            continue
        value = getattr(recipe, name) if recipe is not None else generic
        if name in _SHAPING_DEFAULTS and args.shaping == "none":
            value = generic  # nothing is shaped: mode and scale stay the recorded generic ones
        elif name == "penalty_veto" and args.shaping_mode in CONTACT_FREE_MODES:
            # The mode is settled by now (GENERIC_DEFAULTS lists it first) and pays no
            # contact: the recipe's veto would have no penalty to waive.
            value = generic
        elif recipe is not None:
            taken[name] = value
        setattr(args, name, value)
    return taken


def _new_config(args: argparse.Namespace) -> tuple[RunConfig, Path]:
    target = resolve_target(args.game)
    recipe = None if args.no_game_defaults else game_defaults(target)
    taken = _apply_game_defaults(args, recipe)
    if taken:
        print(f"{target.name} defaults ({recipe.evidence}): "
              + ", ".join(f"{k.replace('_', ' ')} {v:,}" if isinstance(v, int) else
                          f"{k.replace('_', ' ')} {v}" for k, v in taken.items())
              + "; --no-game-defaults for the generic ones")
    obs = args.obs
    preset = preset_for(target, obs)
    try:
        backend = choose_backend(args.env_backend, target.spec,
                                 track_objects=args.shaping == "manual" or obs == "objects")
    except ValueError as err:
        raise TrainError(f"--env-backend: {err}") from None
    hp_overrides: dict[str, Any] = {}
    if recipe is not None and recipe.hparams and args.config is None and \
            (args.algo, obs) == (recipe.algo, recipe.obs):
        # The recipe's hyperparameters belong to its algorithm and observation; a --config
        # file is the user's whole word on them.
        hp_overrides.update(recipe.hparams)
        print(f"{target.name} {recipe.algo} hyperparameters: "
              + ", ".join(f"{k} {v}" for k, v in recipe.hparams.items()) + " (--config to change)")
    if args.n_envs is not None:
        hp_overrides["n_envs"] = args.n_envs
    if args.value_head is not None:
        hp_overrides["value_head"] = args.value_head
    cfg = RunConfig(
        game=args.game, algo=args.algo, shaping=args.shaping, shaping_mode=args.shaping_mode,
        negative_ramp=_steps(args.negative_ramp, "--negative-ramp", zero=True),
        proximity_radius=args.proximity_radius,
        pay_cap=_steps(args.pay_cap, "--pay-cap", zero=True),
        penalty_veto=_steps(args.penalty_veto, "--penalty-veto", zero=True),
        life_penalty=args.life_penalty,
        normalize_by=args.normalize_by,
        steps=_steps(args.steps, "--steps") or DEFAULT_STEPS[preset], seed=args.seed,
        device=args.device, vec_env=args.vec_env, save_every=_steps(args.save_every, "--save-every"),
        eval_episodes=args.eval_episodes,
        eval_mode=default_eval_mode(args.algo, target) if args.eval_mode in (None, "auto")
        else args.eval_mode,
        manual=args.manual, reader=args.reader, overrides=args.overrides, aux_scale=args.aux_scale,
        anneal_steps=int(args.anneal_steps), final_weight=args.final_weight,
        hparams_file=str(args.config) if args.config else None,
        env=EnvSettings(max_episode_frames=args.max_episode_frames, backend=backend, obs=obs,
                        obs_stack=1 if args.obs_stack is None else args.obs_stack),
    )
    if args.obs_stack is not None and obs != "objects":
        raise TrainError("--obs-stack needs --obs objects (pixels stack 4 frames)")
    _validate(cfg, target)
    hp = load_config(cfg.algo, preset, cfg.hparams_file, hp_overrides or None)
    if obs == "objects" and getattr(hp, "policy", "MlpPolicy") != "MlpPolicy":
        # An object vector is not an image: a CNN policy cannot take it.
        raise TrainError(f"--obs objects needs policy: MlpPolicy, the hyperparameters say "
                         f"{hp.policy}")
    cfg.reward_processing = default_reward_processing(args.reward_processing or "auto", target,
                                                      hp.normalize_reward)
    if target.atari:
        cfg.env.clip_reward = cfg.reward_processing == "sign"
    _validate(cfg, target)
    cfg.hparams = asdict(hp)
    run_dir = args.out or default_run_dir(cfg, target)
    if (run_dir / CONFIG_FILE).exists():
        raise TrainError(f"{run_dir} already holds a run; use --resume {run_dir} or another --out")
    return cfg, run_dir


def _resume_config(args: argparse.Namespace) -> tuple[RunConfig, bool]:
    """The run's config with what ``--resume`` may change; and whether it changed."""
    try:
        cfg = read_run_config(args.resume)
    except TrainError as err:
        raise TrainError(f"cannot resume: {err}") from None
    before = asdict(cfg)
    if args.game is not None and resolve_target(args.game) != resolve_target(cfg.game):
        raise TrainError(f"{args.resume} trains {cfg.game}, not {args.game}")
    recorded_processing = reward_processing_of(cfg, resolve_target(cfg.game),
                                               cfg.hparams.get("normalize_reward"))
    for flag, given, recorded in (("--obs", args.obs, cfg.env.obs),
                                  ("--obs-stack", args.obs_stack, cfg.env.obs_stack),
                                  ("--reward-processing", args.reward_processing,
                                   recorded_processing)):
        if given is not None and given != "auto" and given != recorded:
            # The policy was trained on the run's own inputs and rewards.
            raise TrainError(f"{args.resume} trains with {flag} {recorded}; it cannot resume "
                             f"with {flag} {given} (start a new run instead)")
    if cfg.env.backend == "envpool" and not envpool_available():
        # The other backend detects contacts differently: no silent switch mid-run.
        raise TrainError(f"{args.resume} trains on the envpool backend, which is not installed "
                         "here (pip install envpool; CPython 3.11-3.13)")
    steps = _steps(args.steps, "--steps")
    if steps is not None:
        cfg.steps = steps
    if args.device != "auto":
        cfg.device = args.device
    if args.eval_mode not in (None, "auto"):
        cfg.eval_mode = args.eval_mode
    elif cfg.eval_mode is None:  # recorded before the field existed: resolved now
        cfg.eval_mode = default_eval_mode(cfg.algo, resolve_target(cfg.game))
    if cfg.eval_mode not in EVAL_MODES:
        # A config.yaml edited by hand: an unknown mode must not silently evaluate one way.
        raise TrainError(f"{args.resume}: eval_mode must be one of {', '.join(EVAL_MODES)}, "
                         f"got {cfg.eval_mode!r}")
    return cfg, asdict(cfg) != before


def _set_torch_threads(threads: int | None, cfg: RunConfig) -> None:
    """Torch's intra-op threads for this process.

    On a CPU an object-observation MLP gains nothing from more threads, and idle
    OpenMP threads spinning after each op slowed envpool's emulator threads:
    A2C on Skiing objects ran 1,384 steps/s with 2 torch threads and 1,776 with
    one on 2 cores (``benchmarks/RESULTS.md``).
    """
    import torch

    if threads is None:
        if cfg.env.obs != "objects":
            return
        threads = 1
    # Zero or fewer threads is not a setting torch can take.
    if threads < 1:
        raise TrainError(f"--torch-threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)


def write_config(run_dir: Path, cfg: RunConfig) -> None:
    from reward_shaping.table import atomic_write_text

    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / CONFIG_FILE, yaml.safe_dump(asdict(cfg), sort_keys=False))


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    from manuals import ManualError
    from reward_shaping.encoder import EncoderUnavailableError
    from reward_shaping.table import RewardTableError

    args = _parse(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        changed = False
        if args.resume is not None:
            (cfg, changed), run_dir, resume = _resume_config(args), args.resume, True
        else:
            (cfg, run_dir), resume = _new_config(args), False
        run = Run(cfg, run_dir, resume, progress=not args.no_progress)
        resolve_device(cfg.device)  # fail before writing anything
        _set_torch_threads(args.torch_threads, cfg)
        if not resume or changed:
            write_config(run_dir, cfg)
        return run.execute()
    except (TrainError, UnknownGameError, ConfigError, CheckpointError, ManualError,
            RewardTableError, EncoderUnavailableError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.exit(main())

