#!/usr/bin/env bash
# Builds kube-apiserver (and kubectl, for the sandbox) from the k8s.io/kubernetes Go module at the pinned
# version and caches them outside the repo. Prints the directory (usable as KUBEBUILDER_ASSETS with etcd).
. "$(dirname "$0")/lib.sh"
V="$KUBERNETES_VERSION"
OUT="$METALPOOL_CACHE/kube-apiserver-v$V"
if [ -x "$OUT/kube-apiserver" ] && [ -x "$OUT/kubectl" ]; then echo "$OUT"; exit 0; fi
MINOR="${V#*.}"; MINOR="${MINOR%%.*}"
WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
log "building kube-apiserver and kubectl v$V (first time only; ~7 min on 2 cores)"
MODDIR="$(cd "$WORK" && go mod download -json "k8s.io/kubernetes@v$V" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
{
  echo "module kube-apiserver-build"
  echo "go 1.24"
  echo "require k8s.io/kubernetes v$V"
  # Turn every "k8s.io/X => ./staging/src/k8s.io/X" of upstream's go.mod into a pinned module version.
  sed -n 's#^[[:space:]]*\(k8s.io/[A-Za-z0-9._-]*\) => ./staging/src/k8s.io/.*#replace \1 => \1 v0.'"${V#*.}"'#p' "$MODDIR/go.mod"
} > "$WORK/go.mod"
printf '//go:build tools\npackage tools\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver"\nimport _ "k8s.io/kubernetes/cmd/kubectl"\n' > "$WORK/tools.go"
(cd "$WORK" && go mod tidy >&2)
LD="-X k8s.io/component-base/version.gitVersion=v$V -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$MINOR"
LD="$LD -X k8s.io/client-go/pkg/version.gitVersion=v$V -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$MINOR"
mkdir -p "$OUT.tmp"
for cmd in kube-apiserver kubectl; do
  (cd "$WORK" && CGO_ENABLED=0 go build -ldflags "$LD" -o "$OUT.tmp/$cmd" "k8s.io/kubernetes/cmd/$cmd" >&2)
done
rm -rf "$OUT"; mv "$OUT.tmp" "$OUT"
echo "$OUT"
