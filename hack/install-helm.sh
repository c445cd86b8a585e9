#!/usr/bin/env bash
# Builds the pinned helm from its Go module (no binary download is needed) into the cache.
# Prints the path of the helm binary.
. "$(dirname "$0")/lib.sh"
OUT="$METALPOOL_CACHE/helm-v$HELM_VERSION"
if [ ! -x "$OUT/helm" ]; then
  log "building helm v$HELM_VERSION from its Go module (first time only; ~2 min)"
  mkdir -p "$OUT.tmp"
  (cd "$(mktemp -d)" && GOBIN="$OUT.tmp" CGO_ENABLED=0 go install -ldflags "-X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION" >&2)
  rm -rf "$OUT"; mv "$OUT.tmp" "$OUT"
fi
echo "$OUT/helm"
