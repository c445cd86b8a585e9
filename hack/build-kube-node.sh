#!/usr/bin/env bash
# Builds the rest of a single-node cluster — kubelet, kube-controller-manager, kube-scheduler, kube-proxy — from
# the k8s.io/kubernetes Go module at the pinned version (as build-kube-apiserver.sh does) and caches them outside
# the repo. Also compiles Kubernetes' own pause container (build/pause/linux/pause.c) statically.
# Prints the directory.
. "$(dirname "$0")/lib.sh"
. "$HACK_DIR/kube-build.sh"
OUT="$METALPOOL_CACHE/kube-node-v$KUBERNETES_VERSION"
CMDS=(kubelet kube-controller-manager kube-scheduler kube-proxy)
complete() { local c; for c in "${CMDS[@]}" pause; do [ -x "$OUT/$c" ] || return 1; done; }
if complete; then echo "$OUT"; exit 0; fi
log "building ${CMDS[*]} v$KUBERNETES_VERSION (first time only; ~5 min on 2 cores with kube-apiserver's module cache, ~9 min without)"
build_kube_commands "$OUT" "${CMDS[@]}"
MODDIR="$(cd / && go mod download -json "k8s.io/kubernetes@v$KUBERNETES_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
gcc -Os -static -o "$OUT/pause.tmp" "$MODDIR/build/pause/linux/pause.c" && strip "$OUT/pause.tmp" && mv "$OUT/pause.tmp" "$OUT/pause"
echo "$OUT"
