# Builds commands of the k8s.io/kubernetes Go module at the pinned version into a cache directory.
# Sourced by build-kube-*.sh (after lib.sh). Usage: build_kube_commands OUT_DIR cmd...
build_kube_commands() {
  local out="$1"; shift
  local v="$KUBERNETES_VERSION" minor work moddir ld cmd imports=""
  minor="${v#*.}"; minor="${minor%%.*}"
  work="$(mktemp -d)"
  # shellcheck disable=SC2064 # expand now: the trap runs after this function's locals are gone
  trap "rm -rf '$work'" EXIT
  moddir="$(cd "$work" && go mod download -json "k8s.io/kubernetes@v$v" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
  {
    echo "module kube-build"
    echo "go 1.24"
    echo "require k8s.io/kubernetes v$v"
    # Turn every "k8s.io/X => ./staging/src/k8s.io/X" of upstream's go.mod into a pinned module version.
    sed -n 's#^[[:space:]]*\(k8s.io/[A-Za-z0-9._-]*\) => ./staging/src/k8s.io/.*#replace \1 => \1 v0.'"${v#*.}"'#p' "$moddir/go.mod"
  } > "$work/go.mod"
  for cmd in "$@"; do imports="${imports}import _ \"k8s.io/kubernetes/cmd/$cmd\"\n"; done
  printf '//go:build tools\npackage tools\n%b' "$imports" > "$work/tools.go"
  (cd "$work" && go mod tidy >&2)
  ld="-X k8s.io/component-base/version.gitVersion=v$v -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  ld="$ld -X k8s.io/client-go/pkg/version.gitVersion=v$v -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  rm -rf "$out.tmp"; mkdir -p "$out.tmp"
  for cmd in "$@"; do
    log "building $cmd v$v"
    (cd "$work" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $ld" -o "$out.tmp/$cmd" "k8s.io/kubernetes/cmd/$cmd" >&2)
  done
  rm -rf "$out"; mv "$out.tmp" "$out"
}
