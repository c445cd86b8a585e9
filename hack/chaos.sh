#!/usr/bin/env bash
# The fault-injection suite on its own: `npm run chaos -- --seeds N [--first S] [--faults F]` runs seeds
# S..S+N-1 (default 1..N), F faults each (default 8). The README's test command runs a short version.
. "$(dirname "$0")/lib.sh"
seeds=10 first=1 faults=8
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) seeds="$2"; shift 2 ;;
    --first) first="$2"; shift 2 ;;
    --faults) faults="$2"; shift 2 ;;
    *) log "unknown argument $1 (use --seeds N, --first S, --faults F)"; exit 2 ;;
  esac
done
bash "$HACK_DIR/install-deps.sh"
export PATH="$(bash "$HACK_DIR/install-node.sh"):$PATH"
export KUBEBUILDER_ASSETS="$(bash "$HACK_DIR/ensure-control-plane.sh")"
export CHAOS_SEEDS="$(seq -s, "$first" $((first + seeds - 1)))" CHAOS_FAULTS="$faults"
cd "$REPO_DIR"
exec npx vitest run --project integration test/chaos
