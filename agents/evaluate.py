"""Evaluate a trained run: ``python -m agents.evaluate RUN_DIR``.

Loads the run's latest checkpoint, plays N episodes without shaping and prints
the game scores, their mean/std and the human-normalised score where
reference numbers exist.  Actions are those of the run's own evaluation mode
(``eval_mode`` in its ``config.yaml``: greedy or sampled, see
:func:`agents.runs.default_eval_mode`) unless ``--deterministic`` or
``--stochastic`` says otherwise.  ``--gif`` also records one episode with object
boxes and interaction events drawn on the frames.

Examples::

    python -m agents.evaluate runs/Skiing-a2c-manual-0-20261123-101500 --episodes 20
    python -m agents.evaluate runs/Pong-a2c-none-0-20261123-101500 --gif pong.gif --gif-every 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from agents.cli import HelpFormatter
from agents.environments import EnvSettings, Target, resolve_target
from agents.scores import evaluate_model


def load_model(run_dir: Path, cfg: Any, device: str) -> tuple[Any, Any]:
    """``(checkpoint, model)``: the latest checkpoint of ``run_dir`` (whose config is
    ``cfg``) loaded on ``device`` (``auto``, ``cpu``, ``cuda``...).

    Raises:
        CheckpointError: no usable checkpoint.
        TrainError: the device is unavailable, or the checkpoint's model cannot be loaded.
    """
    from agents.algorithms.registry import algorithm_class
    from agents.checkpoint import find_checkpoint
    from agents.runs import TrainError, resolve_device

    ckpt = find_checkpoint(run_dir)
    device = resolve_device(device)
    try:
        model = algorithm_class(cfg.algo, SimpleNamespace(**cfg.hparams)).load(ckpt.model,
                                                                               device=device)
    except Exception as err:
        raise TrainError(f"cannot load {ckpt.model}: {err}") from err
    return ckpt, model


def record_gif(model, target: Target, settings: EnvSettings, path: Path, seed: int,
               deterministic: bool, every: int, max_steps: int) -> dict[str, Any]:
    """Play one episode in an env with rendering and the detector; save an annotated GIF."""
    from envs.atari import make_env
    from envs.tools.inspect import annotate

    if target.spec is None:
        raise ValueError("--gif needs an Atari game (it draws the detected objects)")
    env = make_env(target.spec, objects_in_info=True, render_mode="rgb_array",
                   **{**settings.atari_kwargs(), "clip_reward": False})
    obs, _ = env.reset(seed=seed)
    frames, score, touches = [], 0.0, 0
    for step in range(1, max_steps + 1):
        action, _ = model.predict(obs, deterministic=deterministic)
        obs, reward, terminated, truncated, info = env.step(int(action))
        score += float(info.get("game_reward", reward))
        events = info["interactions"]
        touches += len(events)
        if step % every == 0 or events or terminated or truncated:
            caption = f"{target.name} step {step} score {score:g}"
            if events:
                caption += " touch: " + ",".join(e.category for e in events)
            frames.append(annotate(env.render(), info["objects"], events, target.spec.avatar,
                                   caption))
        if terminated or truncated:
            break
    env.close()
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=66, loop=0)
    return {"path": str(path), "frames": len(frames), "steps": step, "score": score,
            "contacts": touches}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m agents.evaluate",
        description="Play a trained run's policy and report game scores (no shaping).",
        formatter_class=HelpFormatter,
    )
    p.add_argument("run_dir", type=Path, help="a run directory made by agents.train (its checkpoints are "
                   "pickles: evaluate only run directories you trust)")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--n-envs", type=int, default=8, help="episodes played in parallel")
    modes = p.add_mutually_exclusive_group()
    modes.add_argument("--deterministic", dest="mode", action="store_const", const="greedy",
                       help="greedy actions (default: the run's evaluation mode)")
    modes.add_argument("--stochastic", dest="mode", action="store_const", const="sampled",
                       help="actions sampled from the policy (default: the run's evaluation mode)")
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    p.add_argument("--gif", type=Path, help="record one annotated episode to this GIF")
    p.add_argument("--gif-every", type=int, default=4, help="keep every k-th step in the GIF")
    p.add_argument("--gif-steps", type=int, default=2000, help="at most this many GIF steps")
    p.add_argument("--obs", choices=["pixels", "objects"],
                   help="check that the run observes this (a policy plays on what it was "
                   "trained on: the run's own observations are always used)")
    p.add_argument("--json", type=Path, help="also write the results as JSON")
    args = p.parse_args(argv)
    for name in ("episodes", "n_envs", "gif_every", "gif_steps"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    from agents.checkpoint import CheckpointError
    from agents.runs import TrainError, eval_mode_of, read_run_config
    from reward_shaping.table import atomic_write_text

    args = _parse(argv)
    try:
        cfg = read_run_config(args.run_dir)
        target = resolve_target(cfg.game)
        if args.obs is not None and args.obs != cfg.env.obs:
            # The network's input is the run's observation; another one cannot be fed to it.
            raise TrainError(f"{args.run_dir} was trained on --obs {cfg.env.obs}, not {args.obs}")
        ckpt, model = load_model(args.run_dir, cfg, args.device)
    except (TrainError, CheckpointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    mode = args.mode or eval_mode_of(cfg, target)
    print(f"{cfg.algo} on {target.env_id} ({cfg.shaping} shaping, {cfg.env.obs} observations), "
          f"checkpoint at step {ckpt.step:,}; {args.episodes} episodes, {mode} actions"
          + ("" if args.mode else " (the run's evaluation mode)"))
    deterministic = mode == "greedy"
    result = evaluate_model(model, target, cfg.env, args.episodes, n_envs=args.n_envs,
                            seed=args.seed, deterministic=deterministic, vec_env=cfg.vec_env)
    result["step"] = ckpt.step
    result["obs"] = cfg.env.obs
    for i, (s, n) in enumerate(zip(result["scores"], result["lengths"])):
        print(f"  episode {i + 1:3d}: score {s:10.1f}  length {n:6d}")
    hns = result["human_normalized"]
    print(f"mean {result['mean']:.1f} +- {result['std']:.1f}"
          + (f"; human-normalized {hns:.3f}" if hns is not None else ""))
    if args.gif:
        try:
            gif = record_gif(model, target, cfg.env, args.gif, args.seed, deterministic,
                             args.gif_every, args.gif_steps)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        result["gif"] = gif
        print(f"saved {gif['path']}: {gif['frames']} frames of {gif['steps']} steps, "
              f"score {gif['score']:g}, {gif['contacts']} contacts")
    if args.json:
        atomic_write_text(args.json, json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.exit(main())
