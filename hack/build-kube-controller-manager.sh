#!/usr/bin/env bash
# Builds kube-controller-manager from the k8s.io/kubernetes Go module at the pinned version (the way
# build-kube-apiserver.sh builds kube-apiserver) and caches it outside the repo; reuses one a full node
# build (kube-node-v<version>) already made. Prints the binary's path. End-to-end tests run only its
# garbage collector: machine-controller's MachineDeployments and MachineSets are deleted in the foreground,
# and only the garbage collector removes their dependents and then the foregroundDeletion finalizer.
. "$(dirname "$0")/lib.sh"
V="$KUBERNETES_VERSION"
for dir in "$METALPOOL_CACHE/kube-node-v$V" "$METALPOOL_CACHE/kube-controller-manager-v$V"; do
  if [ -x "$dir/kube-controller-manager" ]; then echo "$dir/kube-controller-manager"; exit 0; fi
done
OUT="$METALPOOL_CACHE/kube-controller-manager-v$V"
MINOR="${V#*.}"; MINOR="${MINOR%%.*}"
WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
log "building kube-controller-manager v$V (first time only; ~3 min on 2 cores after kube-apiserver)"
MODDIR="$(cd "$WORK" && go mod download -json "k8s.io/kubernetes@v$V" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
{
  echo "module kube-controller-manager-build"
  echo "go 1.24"
  echo "require k8s.io/kubernetes v$V"
  sed -n 's#^[[:space:]]*\(k8s.io/[A-Za-z0-9._-]*\) => ./staging/src/k8s.io/.*#replace \1 => \1 v0.'"${V#*.}"'#p' "$MODDIR/go.mod"
} > "$WORK/go.mod"
printf '//go:build tools\npackage tools\nimport _ "k8s.io/kubernetes/cmd/kube-controller-manager"\n' > "$WORK/tools.go"
(cd "$WORK" && go mod tidy >&2)
LD="-X k8s.io/component-base/version.gitVersion=v$V -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$MINOR"
mkdir -p "$OUT.tmp"
(cd "$WORK" && CGO_ENABLED=0 go build -ldflags "$LD" -o "$OUT.tmp/kube-controller-manager" k8s.io/kubernetes/cmd/kube-controller-manager >&2)
rm -rf "$OUT"; mv "$OUT.tmp" "$OUT"
echo "$OUT/kube-controller-manager"
