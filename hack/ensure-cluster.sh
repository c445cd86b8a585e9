#!/usr/bin/env bash
# Everything a real single-node cluster for tests needs (test/harness/cluster.ts), built or found and cached:
# kube-apiserver and the node binaries at the pinned version, etcd, containerd + runc + CNI plugins (Debian),
# the pause image, the metalpool image (hack/build-image.sh) and helm. Prints KEY=VALUE lines.
# Exits 3 with one sentence on stderr when something cannot be had here (the tests then skip with it).
unavailable() { echo "$*" >&2; exit 3; }
[ "$(id -u)" = 0 ] || unavailable "a real cluster needs root (network namespaces, containerd, mounts)"
. "$(dirname "$0")/lib.sh"
for tool in containerd ctr runc nsenter ip iptables conntrack openssl buildah; do
  command -v "$tool" >/dev/null || unavailable "$tool not found (hack/install-deps.sh installs it)"
done
CNI_DIR=/usr/lib/cni
for plugin in bridge host-local loopback portmap; do
  [ -x "$CNI_DIR/$plugin" ] || unavailable "CNI plugin $plugin not in $CNI_DIR (Debian's containernetworking-plugins)"
done
ETCD="$(command -v etcd || true)"
[ -n "$ETCD" ] || unavailable "etcd not found (Debian's etcd-server; hack/install-deps.sh installs it)"
# Hybrid cgroups (v1 controllers + unified) are what this kind of machine has; runc handles them, crun does not.
[ -d /sys/fs/cgroup ] || unavailable "no cgroup filesystem"

APISERVER_DIR="$(bash "$HACK_DIR/build-kube-apiserver.sh")"
NODE_DIR="$(bash "$HACK_DIR/build-kube-node.sh")"
HELM="$(bash "$HACK_DIR/install-helm.sh")"
IMAGE_ARCHIVE="$(bash "$HACK_DIR/build-image.sh")"
IMAGE_REF="$(bash "$HACK_DIR/build-image.sh" image-ref)"

# The sandbox ("pause") image containerd starts every pod with, from Kubernetes' own pause.c (built by
# build-kube-node.sh), since no registry serves registry.k8s.io here.
PAUSE_REF=registry.k8s.io/pause:3.10.1
PAUSE_ARCHIVE="$METALPOOL_CACHE/image/pause-3.10.1-k8s-v$KUBERNETES_VERSION.oci.tar"
if [ ! -s "$PAUSE_ARCHIVE" ]; then
  export CONTAINERS_CONF="$METALPOOL_CACHE/containers.conf"
  mkdir -p "$(dirname "$PAUSE_ARCHIVE")"
  ctr="$(buildah from scratch)"
  buildah copy --quiet "$ctr" "$NODE_DIR/pause" /pause >/dev/null
  buildah config --entrypoint '["/pause"]' --user 65535:65535 "$ctr"
  buildah commit --quiet --rm "$ctr" "$PAUSE_REF" >/dev/null
  buildah push --quiet "$PAUSE_REF" "oci-archive:$PAUSE_ARCHIVE.tmp:$PAUSE_REF" >&2
  mv "$PAUSE_ARCHIVE.tmp" "$PAUSE_ARCHIVE"
fi

cat <<EOF
ETCD=$ETCD
KUBE_APISERVER=$APISERVER_DIR/kube-apiserver
KUBECTL=$APISERVER_DIR/kubectl
KUBE_CONTROLLER_MANAGER=$NODE_DIR/kube-controller-manager
KUBE_SCHEDULER=$NODE_DIR/kube-scheduler
KUBELET=$NODE_DIR/kubelet
KUBE_PROXY=$NODE_DIR/kube-proxy
CONTAINERD=$(command -v containerd)
CTR=$(command -v ctr)
RUNC=$(command -v runc)
CNI_BIN_DIR=$CNI_DIR
HELM=$HELM
IMAGE_ARCHIVE=$IMAGE_ARCHIVE
IMAGE_REF=$IMAGE_REF
PAUSE_ARCHIVE=$PAUSE_ARCHIVE
PAUSE_REF=$PAUSE_REF
EOF
