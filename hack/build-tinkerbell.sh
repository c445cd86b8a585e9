#!/usr/bin/env bash
# Builds the `tinkerbell` binary (smee, tink-server, tink-controller, rufio in one program) from the
# github.com/tinkerbell/tinkerbell Go module at the pinned version and caches it outside the repo.
# Prints the binary's path; proto/ beside it holds the same version's WorkflowService .proto files (the
# in-OS agent's gRPC API, for the test's agent simulator). `go install …@v` is refused (the module has replace directives) and the module
# zip lacks its nested api/ module, so a wrapper module requires it and restates the replaces:
#  - api => the published api module of the same version;
#  - every k8s.io replace, copied from the module's own go.mod;
#  - quamina: the pseudo-version Tinkerbell pins is not served by the proxy; release v1.5.1 of the same
#    library is, with the calls Tinkerbell makes.
. "$(dirname "$0")/lib.sh"
V="$TINKERBELL_VERSION"
OUT="$METALPOOL_CACHE/tinkerbell-v$V"
if [ -x "$OUT/tinkerbell" ] && [ -d "$OUT/proto" ]; then echo "$OUT/tinkerbell"; exit 0; fi
WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
log "building tinkerbell v$V (first time only; ~2-4 min on 2 cores)"
MODDIR="$(cd "$WORK" && go mod download -json "github.com/tinkerbell/tinkerbell@v$V" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
GOVERSION="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$MODDIR/go.mod")"
{
  echo "module tinkerbell-build"
  echo "go $GOVERSION"
  echo "require github.com/tinkerbell/tinkerbell v$V"
  echo "replace github.com/tinkerbell/tinkerbell/api => github.com/tinkerbell/tinkerbell/api v$V"
  echo "replace quamina.net/go/quamina => github.com/timbray/quamina v1.5.1"
  # Both forms upstream uses: inside the replace ( … ) block and single-line `replace k8s.io/x => …`.
  sed -n 's#^[[:space:]]*\(replace[[:space:]]*\)\{0,1\}\(k8s.io/[A-Za-z0-9._-]* => k8s.io/[A-Za-z0-9._-]* v[0-9][^[:space:]]*\).*#replace \2#p' "$MODDIR/go.mod"
} > "$WORK/go.mod"
printf '//go:build tools\npackage tools\nimport _ "github.com/tinkerbell/tinkerbell/cmd/tinkerbell"\n' > "$WORK/tools.go"
(cd "$WORK" && go mod tidy >&2)
mkdir -p "$OUT.tmp"
(cd "$WORK" && CGO_ENABLED=0 go build -trimpath -o "$OUT.tmp/tinkerbell" github.com/tinkerbell/tinkerbell/cmd/tinkerbell >&2)
mkdir -p "$OUT.tmp/proto"
cp "$MODDIR"/pkg/proto/*.proto "$OUT.tmp/proto/"
chmod -R u+w "$OUT.tmp/proto"
rm -rf "$OUT"; mv "$OUT.tmp" "$OUT"
echo "$OUT/tinkerbell"
