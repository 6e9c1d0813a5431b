"""What follows a contact: does the game pay for it, is a life lost after it?

Plays a game (random play, or a trained run's policy with ``--run``) on the per-frame
detector's path (``envs.atari.make_env``, frame skip 4) and, for every contact event,
records the game's own reward in the contact's step and the next steps, and whether a
life is lost within ``--life-steps`` steps.  These numbers are why
``agents/sweeps/penalty_veto.yml`` waives a penalty when the game pays within 3 steps of
the contact: Kangaroo's monkey punched for 200 is a contact that scores, not a harm.

For each event key it prints: contacts; the steps from the contact to the first positive
game reward (0 = the same step; "none" within 8 steps); contacts a veto of ``--window``
steps would waive; contacts followed by a lost life; and contacts followed by a lost life
that the veto would waive anyway (a penalty lost to a reward that had nothing to do with
the contact, such as Ms. Pac-Man's pills).  It also counts the lives lost with no contact at
all in the steps before: deaths the detector did not see.

Usage::

    python benchmarks/contact_outcomes.py MsPacman --episodes 6
    python benchmarks/contact_outcomes.py Kangaroo --run RUN_DIR --episodes 10
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from envs.atari import make_env  # noqa: E402
from envs.games import resolve_game  # noqa: E402

LAG_SPAN = 8  # steps after a contact searched for the game's reward


def _policy(run: Path | None):
    """``(predict(obs) -> action or None, env settings)``: a run's sampled policy, or ``None``."""
    if run is None:
        return None, None
    from agents.evaluate import load_model
    from agents.runs import read_run_config

    cfg = read_run_config(run)
    _, model = load_model(run, cfg, "cpu")
    return (lambda obs: int(model.predict(obs, deterministic=False)[0])), cfg


def outcomes(game: str, episodes: int, run: Path | None = None, window: int = 3,
             life_steps: int = 40, seed: int = 100,
             touch_margin: int | None = None) -> dict[str, collections.Counter]:
    """Per event key: contact counts and what followed them (see the module docstring)."""
    predict, cfg = _policy(run)
    if cfg is not None and cfg.game != resolve_game(game).name:
        raise SystemExit(f"error: {run} is a {cfg.game} run, not {game}")
    # The run's own settings, so that its network can read the observation.
    kw = cfg.env.atari_kwargs() if cfg is not None else {}
    kw["clip_reward"] = False
    if touch_margin is not None:
        kw["touch_margin"] = touch_margin
    env = make_env(resolve_game(game), **kw)
    env.action_space.seed(seed)
    stats: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for ep in range(episodes):
        obs, info = env.reset(seed=seed + ep)
        rewards, lives, contacts = [], [info.get("lives", 0)], []
        while True:
            action = predict(obs) if predict else env.action_space.sample()
            obs, reward, terminated, truncated, info = env.step(action)
            rewards.append(float(info.get("game_reward", reward)))
            lives.append(info.get("lives", 0))
            contacts.append([e.key for e in info["interactions"]])
            if terminated or truncated:
                break
        paid = np.array(rewards) > 0
        lost = np.flatnonzero(np.diff(lives) < 0)  # the steps in which a life went
        stats["_episodes"]["n"] += 1
        stats["_episodes"]["steps"] += len(rewards)
        stats["_episodes"]["lives_lost"] += len(lost)
        touched = np.array([bool(keys) for keys in contacts])
        stats["_episodes"]["lives_lost_untouched"] += sum(
            not touched[max(0, t - life_steps):t + 1].any() for t in lost)
        for t, keys in enumerate(contacts):
            for key in keys:
                c = stats[key]
                c["contacts"] += 1
                after = np.flatnonzero(paid[t:t + LAG_SPAN])
                c[f"lag {after[0] if after.size else 'none'}"] += 1
                waived = bool(paid[t:t + window].any())
                died = bool(((lost >= t) & (lost <= t + life_steps)).any())
                c["waived"] += waived
                c["life lost"] += died
                c["life lost, waived"] += died and waived
    env.close()
    return stats


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/contact_outcomes.py",
                                description=__doc__.split("\n")[0])
    p.add_argument("game")
    p.add_argument("--episodes", type=int, default=6)
    p.add_argument("--run", type=Path, default=None,
                   help="a run directory whose policy plays (its checkpoints are pickles: "
                   "only runs you trust); default: random play")
    p.add_argument("--window", type=int, default=3,
                   help="the veto's steps, the contact's own included")
    p.add_argument("--life-steps", type=int, default=40,
                   help="steps after a contact in which a lost life counts as its outcome")
    p.add_argument("--seed", type=int, default=100)
    p.add_argument("--touch-margin", type=int, default=None,
                   help="pixels between two boxes that still count as contact (default: the "
                   "game's, or the run's)")
    args = p.parse_args(argv)
    # Fewer would say nothing; a window of 0 steps waives nothing.
    if args.episodes < 1 or args.window < 1 or args.life_steps < 1:
        p.error("--episodes, --window and --life-steps must be >= 1")
    if args.touch_margin is not None and args.touch_margin < 0:
        p.error("--touch-margin must be >= 0")
    try:
        resolve_game(args.game)
    except (KeyError, ValueError) as err:
        p.error(str(err))
    stats = outcomes(args.game, args.episodes, args.run, args.window, args.life_steps, args.seed,
                     args.touch_margin)
    e = stats.pop("_episodes")
    print(f"{args.game}, {'policy of ' + str(args.run) if args.run else 'random play'}: "
          f"{e['n']} episodes, {e['steps']} steps, {e['lives_lost']} lives lost, "
          f"{e['lives_lost_untouched']} of them with no contact in the {args.life_steps} steps "
          "before")
    for key, c in sorted(stats.items()):
        lags = ", ".join(f"{k[4:]}: {v}" for k, v in sorted(c.items()) if k.startswith("lag "))
        print(f"  {key}: {c['contacts']} contacts; first game reward after (steps) {lags}; "
              f"waived by a {args.window}-step veto {c['waived']}; a life lost within "
              f"{args.life_steps} steps {c['life lost']}, of them waived {c['life lost, waived']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
