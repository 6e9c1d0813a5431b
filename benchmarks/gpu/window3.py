"""GPU window 3: more games and every agent on pixels.

Two sweeps side by side on 16 cores, each run the same number of steps as the
runs it is compared with (set by a calibration so that all finish, evaluation
included, inside the window):

* ``games_pixels``: A2C on MsPacman, Freeway, Seaquest and Breakout, the manual's
  shaping against none (8 runs of 2 cores; one step target per game);
* ``algos_pixels``: pg, dlac, dsac and A2C with the HL-Gauss critic
  (``--value-head hl_gauss``) on Skiing and MsPacman, shaped and unshaped (16 runs of
  1 core; one step target per algorithm).

Usage (on the GPU machine, see benchmarks/gpu/README.md; here for a dry run)::

    python benchmarks/gpu/window3.py --out $OUT
    python benchmarks/gpu/window3.py --dry-run --out /tmp/w3
"""

from __future__ import annotations

import sys

from windowkit import Stage, Sweep, Window, main

TRAIN = {"obs": "pixels", "env_backend": "envpool", "device": "cuda", "eval_episodes": 8,
         "save_every": 10**9}

GAMES = {
    "name": "games_pixels",
    "games": ["MsPacman", "Freeway", "Seaquest", "Breakout"],
    "algos": ["a2c"],
    "shaping": ["manual", "none"],
    "seeds": [0],
    "train": TRAIN,
    "resources": {"cpus": 2, "gpus": 0},
}

ALGOS = {
    "name": "algos_pixels",
    "games": ["Skiing", "MsPacman"],
    "algos": ["pg", "dlac", "dsac",
              {"name": "a2c_hl_gauss", "algo": "a2c", "train": {"value_head": "hl_gauss"}}],
    "shaping": ["manual", "none"],
    "seeds": [0],
    # Five evaluation episodes: dsac evaluates with its single env, one episode at a time.
    "train": dict(TRAIN, eval_episodes=5),
    "resources": {"cpus": 1, "gpus": 0},
}

WINDOW = Window(
    number=3,
    title="A2C on MsPacman, Freeway, Seaquest, Breakout (shaped vs none); pg, dlac, dsac, "
          "a2c+HL-Gauss on Skiing and MsPacman",
    stages=[Stage("games_and_algos", [Sweep(GAMES, workers=8, group=("game",)),
                                      Sweep(ALGOS, workers=16, group=("algo",))])],
)

if __name__ == "__main__":
    sys.exit(main(WINDOW))
