#!/usr/bin/env bash
# Runs every test: installs what is missing, builds (or reuses) the control plane, compiles, lints, and runs
# the unit and integration suites against a real kube-apiserver + etcd. Extra arguments go to vitest.
. "$(dirname "$0")/lib.sh"
bash "$HACK_DIR/install-deps.sh"
export PATH="$(bash "$HACK_DIR/install-node.sh"):$PATH"
export KUBEBUILDER_ASSETS="$(bash "$HACK_DIR/ensure-control-plane.sh")"
export METALPOOL_HELM="$(bash "$HACK_DIR/install-helm.sh")"
# The real cluster's binaries and images (test/cluster/), built here so no test waits on a cold build;
# where a cluster cannot run (exit 3: not root, a missing tool) those tests skip and say why.
rc=0; bash "$HACK_DIR/ensure-cluster.sh" >/dev/null || rc=$?
[ "$rc" = 0 ] || [ "$rc" = 3 ] || exit "$rc"
# The real programs of the end-to-end tests (test/stack), each built once and cached: Tinkerbell,
# machine-controller's controllers with the stand-in Machine loop, kube-controller-manager (its GC).
export METALPOOL_TINKERBELL="$(bash "$HACK_DIR/build-tinkerbell.sh")"
export METALPOOL_MACHINE_CONTROLLER="$(bash "$HACK_DIR/build-machine-controller.sh")"
export METALPOOL_KUBE_CONTROLLER_MANAGER="$(bash "$HACK_DIR/build-kube-controller-manager.sh")"
# The pinned Prometheus and promtool (alert unit tests; the dashboards' queries, asked of a real Prometheus
# scraping the scenarios of test/charts/observability.test.ts and test/stack).
export METALPOOL_PROMETHEUS="$(bash "$HACK_DIR/build-prometheus.sh")"
cd "$REPO_DIR"
npm run --silent build
npm run --silent typecheck
npm run --silent lint
REPORT="$(mktemp)"; trap 'rm -f "$REPORT"' EXIT
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$REPORT" "$@" || status=$?
# One plain closing line that any CI can read.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' "$REPORT" || true
exit "$status"
