"""Train an agent on a game with manual-guided rewards: ``python -m agents.train GAME``.

Training itself lands with the "Reward and train" work item; until then this
command validates its arguments, prints the environment it would train on, and
exits with status 3 so that scripts do not mistake it for a finished run.
"""

from __future__ import annotations

import argparse
import sys

from envs.games import UnknownGameError, resolve_game

NOT_YET = 3


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    p = argparse.ArgumentParser(
        prog="python -m agents.train",
        description="Train an RL agent on an Atari game with rewards read from its manual.",
    )
    p.add_argument("game", help="game name, e.g. Skiing, MsPacman, ALE/Pong-v5")
    args = p.parse_args(argv)
    try:
        spec = resolve_game(args.game)
    except UnknownGameError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    clip = "on" if spec.clip_reward_default else "off"
    print(
        f"Would train A2C on {spec.ale_id}: 84x84 grey, 4 stacked frames, frame skip 4, "
        f"sticky actions 0.25, reward clipping {clip}; avatar {spec.avatar}, "
        f"interactable objects: {', '.join(spec.interactable)}."
    )
    print(
        "error: training is not implemented yet (it arrives with the reward-wrapper and "
        "training work); use `python -m envs.inspect GAME` to look at the environment.",
        file=sys.stderr,
    )
    return NOT_YET


if __name__ == "__main__":
    sys.exit(main())
