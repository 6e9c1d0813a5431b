"""GPU window 1: training throughput, then Skiing's best recipe on pixels, shaped and unshaped.

First the fast path is checked against the digests taken on a CPU machine
(``fastpath_digest.py``) and pixel A2C's training rate measured on it at 16, 64
and 256 envs, shaping on and off (``benchmarks/train_throughput.py``, about two
minutes with start-ups).  The rest of the window trains the shaping ablation's
best Skiing configuration (PPO, manual shaping that pays only ``Gate:pass``, at
4x, rewards clipped to their sign, the step size held for the first 40% of the run;
``agents/game_defaults.py``) on **pixels**
instead of object slots, against the same PPO unshaped: 4 seeds each, 8 runs of
2 cores on 16 cores, every run the same number of steps (set by a calibration so
that all finish with their evaluation inside the window).

Usage (on the GPU machine, see benchmarks/gpu/README.md; here for a dry run)::

    python benchmarks/gpu/window1.py --out $OUT
    python benchmarks/gpu/window1.py --dry-run --out /tmp/w1
"""

from __future__ import annotations

import sys

from windowkit import Stage, Sweep, Throughput, Window, main, seeds_for

CORES = 16
CPUS_PER_RUN = 2
ARMS = 2

SKIING_PIXELS = {
    "name": "skiing_pixels",
    "games": ["Skiing"],
    "algos": [
        {"name": "ppo_gate4_hold", "algo": "ppo", "shaping": ["manual"],
         "train": {"shaping_mode": "positive", "aux_scale": 4,
                   "config": "agents/sweeps/hparams/ppo_hold_anneal.yml"}},
        {"name": "ppo", "algo": "ppo", "shaping": ["none"]},
    ],
    "shaping": ["manual", "none"],
    "seeds": list(range(seeds_for(CORES, CPUS_PER_RUN, ARMS))),
    "train": {"obs": "pixels", "reward_processing": "sign", "env_backend": "envpool",
              "device": "cuda", "eval_episodes": 8, "save_every": 10**9},
    "resources": {"cpus": CPUS_PER_RUN, "gpus": 0},
}

WINDOW = Window(
    number=1,
    title="throughput (pixel A2C, 16/64/256 envs, shaping on/off), then Skiing PPO on pixels "
          "with Gate:pass x4 shaping (Skiing's default recipe) vs none",
    throughput=Throughput(game="Skiing", n_envs=(16, 64, 256), steps=20_480, time_s=150.0),
    digest_games=("Skiing", "MsPacman", "Freeway", "Seaquest", "Breakout"),
    stages=[Stage("skiing_pixels", [Sweep(SKIING_PIXELS, workers=8, group=())])],
)

if __name__ == "__main__":
    sys.exit(main(WINDOW))
