#!/usr/bin/env bash
# Runs metalpool in a local sandbox (see hack/sandbox.ts): installs what is missing, builds or reuses the
# control plane, then starts everything. Pass --check to exit once the example pool is Ready.
. "$(dirname "$0")/lib.sh"
bash "$HACK_DIR/install-deps.sh"
export PATH="$(bash "$HACK_DIR/install-node.sh"):$PATH"
export KUBEBUILDER_ASSETS="$(bash "$HACK_DIR/ensure-control-plane.sh")"
cd "$REPO_DIR"
exec node hack/sandbox.ts "$@"
