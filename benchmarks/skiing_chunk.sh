#!/usr/bin/env bash
# One resumable chunk of the Skiing A2C comparison, manual shaping vs none, both
# arms side by side on one machine (used on the GPU machine; see RESULTS.md).
#
#   benchmarks/skiing_chunk.sh RUNS_DIR SECONDS [TARGET_STEPS] [EXTRA TRAIN ARGS...]
#
# Starts both runs (or resumes them if RUNS_DIR already holds them), lets them
# train for SECONDS, then sends SIGTERM: each run saves a checkpoint and exits
# with status 130, ready for the next chunk.
set -u
runs=$1; secs=$2; target=${3:-20000000}; shift 3 2>/dev/null || shift $#
mkdir -p "$runs"
for shaping in manual none; do
  dir="$runs/Skiing-a2c-$shaping"
  if [ -f "$dir/config.yaml" ]; then
    args=(--resume "$dir")
  else
    args=(Skiing --no-game-defaults --shaping "$shaping" --out "$dir" --steps "$target" "$@")
  fi
  timeout --foreground -s TERM "$secs" python3 -m agents.train "${args[@]}" --no-progress \
    >>"$dir.log" 2>&1 &
done
wait
for shaping in manual none; do tail -n 3 "$runs/Skiing-a2c-$shaping.log"; done
