#!/usr/bin/env bash
# Builds kube-apiserver (and kubectl, for the sandbox) from the k8s.io/kubernetes Go module at the pinned
# version and caches them outside the repo. Prints the directory (usable as KUBEBUILDER_ASSETS with etcd).
. "$(dirname "$0")/lib.sh"
. "$HACK_DIR/kube-build.sh"
OUT="$METALPOOL_CACHE/kube-apiserver-v$KUBERNETES_VERSION"
if [ -x "$OUT/kube-apiserver" ] && [ -x "$OUT/kubectl" ]; then echo "$OUT"; exit 0; fi
log "building kube-apiserver and kubectl v$KUBERNETES_VERSION (first time only; ~7 min on 2 cores)"
build_kube_commands "$OUT" kube-apiserver kubectl
echo "$OUT"
