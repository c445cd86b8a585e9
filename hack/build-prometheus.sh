#!/usr/bin/env bash
# Builds `prometheus` and `promtool` from the github.com/prometheus/prometheus Go module at the pinned
# version and caches them outside the repo; prints the directory holding both. The module publishes
# Prometheus 3.x.y as v0.3xx.y (3.5.0 = v0.305.0); the module's VERSION file is checked against the pin.
# Built inside the downloaded module so its own go.mod (replace and exclude directives) and go.sum apply,
# without the builtinassets tag: the tests use the HTTP API, not the web UI.
. "$(dirname "$0")/lib.sh"
V="$PROMETHEUS_VERSION"
OUT="$METALPOOL_CACHE/prometheus-v$V"
if [ -x "$OUT/prometheus" ] && [ -x "$OUT/promtool" ]; then echo "$OUT"; exit 0; fi
IFS=. read -r MAJOR MINOR PATCH <<<"$V"
MODV="v0.$((MAJOR * 100 + MINOR)).$PATCH"
WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
log "building prometheus v$V (module $MODV; first time only; ~3-5 min on 2 cores)"
MODDIR="$(cd "$WORK" && go mod download -json "github.com/prometheus/prometheus@$MODV" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
[ "$(cat "$MODDIR/VERSION")" = "$V" ] || { log "module $MODV is Prometheus $(cat "$MODDIR/VERSION"), not $V"; exit 1; }
mkdir -p "$OUT.tmp"
# The module cache is read-only; a copy lets go build write nothing unexpected and keeps the cache clean.
cp -r "$MODDIR" "$WORK/src"; chmod -R u+w "$WORK/src"
for cmd in prometheus promtool; do
  (cd "$WORK/src" && CGO_ENABLED=0 go build -trimpath \
    -ldflags "-X github.com/prometheus/common/version.Version=$V -X github.com/prometheus/common/version.Branch=HEAD -X github.com/prometheus/common/version.Revision=$MODV" \
    -o "$OUT.tmp/$cmd" "./cmd/$cmd" >&2)
done
"$OUT.tmp/prometheus" --version 2>&1 | grep -q "version $V " || { log "built prometheus does not report version $V"; exit 1; }
rm -rf "$OUT"; mv "$OUT.tmp" "$OUT"
echo "$OUT"
