#!/usr/bin/env bash
# Prints a directory holding `etcd` and `kube-apiserver`, usable as KUBEBUILDER_ASSETS.
# Honours an existing KUBEBUILDER_ASSETS (the envtest convention); otherwise builds kube-apiserver at the
# pinned version (cached) and takes etcd from Debian's etcd-server package.
. "$(dirname "$0")/lib.sh"
if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then echo "$KUBEBUILDER_ASSETS"; exit 0; fi
DIR="$(bash "$HACK_DIR/build-kube-apiserver.sh")"
ETCD="$(command -v etcd || true)"
[ -n "$ETCD" ] || { log "etcd not found: install Debian's etcd-server (hack/install-deps.sh does)"; exit 1; }
ln -sf "$ETCD" "$DIR/etcd"
echo "$DIR"
