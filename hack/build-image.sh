#!/usr/bin/env bash
# Builds the metalpool image from the Dockerfile without a daemon or a registry (buildah), and writes it as an
# OCI archive into the cache, keyed by the content that goes into it: an unchanged tree is never rebuilt.
# The build stage runs on a builder assembled here from Debian (mmdebstrap) and the pinned Node npm package.
# Prints the archive's path; the image inside is named $IMAGE_NAME:<chart appVersion> (see image-ref below).
#   bash hack/build-image.sh            # path of the OCI archive
#   bash hack/build-image.sh image-ref  # the image reference inside it
. "$(dirname "$0")/lib.sh"
cd "$REPO_DIR"
IMAGE_NAME=localhost/metalpool
APP_VERSION="$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' charts/metalpool/Chart.yaml)"
IMAGE_REF="$IMAGE_NAME:$APP_VERSION"
if [ "${1:-}" = image-ref ]; then echo "$IMAGE_REF"; exit 0; fi

# Everything the Dockerfile copies, plus the recipe itself and the pinned Node: the cache key.
KEY="$({
  echo "node=$NODE_VERSION npm=$NPM_VERSION ref=$IMAGE_REF"
  git ls-files -co --exclude-standard -- Dockerfile .dockerignore package.json package-lock.json tsconfig.json \
    tsconfig.build.json lib operator discovery crds hack/image hack/build-image.sh \
    | grep -v '\.test\.ts$' | sort | while read -r f; do [ -f "$f" ] && sha256sum "$f"; done
} | sha256sum | cut -c1-16)"
OUT="$METALPOOL_CACHE/image/metalpool-$APP_VERSION-$KEY.oci.tar"
if [ -s "$OUT" ]; then echo "$OUT"; exit 0; fi

for tool in buildah mmdebstrap; do
  command -v "$tool" >/dev/null || { log "$tool not found: hack/install-deps.sh installs it"; exit 1; }
done
# runc, not crun (cgroups v1 hybrid here), and rlimits within this machine's hard limits: no process may raise
# one (CAP_SYS_RESOURCE is not in the bounding set), so the default nofile=1048576 would fail every RUN.
export CONTAINERS_CONF="$METALPOOL_CACHE/containers.conf"
cat > "$CONTAINERS_CONF" <<EOF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=4096:4096"]
[engine]
runtime = "runc"
EOF

BUILDER="localhost/metalpool-builder:bookworm-node-$NODE_VERSION"
if ! buildah inspect --type image "$BUILDER" >/dev/null 2>&1; then
  ROOTFS="$METALPOOL_CACHE/builder-bookworm/rootfs.tar"
  if [ ! -s "$ROOTFS" ]; then
    log "assembling the builder's Debian bookworm root filesystem (first time only; ~2 min)"
    mkdir -p "$(dirname "$ROOTFS")"
    # The machine's own apt sources as the mirror; the image keeps no sources or lists.
    SOURCES=/etc/apt/sources.list.d/debian.sources
    [ -f "$SOURCES" ] || SOURCES=/etc/apt/sources.list
    mmdebstrap --quiet --variant=minbase --include=libcap2-bin,ca-certificates \
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
      bookworm "$ROOTFS.tmp" "$SOURCES" >&2
    mv "$ROOTFS.tmp" "$ROOTFS"
  fi
  NODE_DIR="$(dirname "$(bash "$HACK_DIR/install-node.sh")")"
  log "importing the builder image $BUILDER"
  ctr="$(buildah from scratch)"
  buildah add --quiet "$ctr" "$ROOTFS" / >/dev/null
  buildah copy --quiet "$ctr" "$NODE_DIR/bin/node" /usr/local/bin/node >/dev/null
  buildah copy --quiet "$ctr" "$NODE_DIR/lib/node_modules/npm" /usr/local/lib/node_modules/npm >/dev/null
  buildah run "$ctr" -- ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
  buildah run "$ctr" -- ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ctr"
  buildah commit --quiet --rm "$ctr" "$BUILDER" >/dev/null
fi

log "building $IMAGE_REF (content $KEY)"
start=$SECONDS
# Host network for the build stage's npm ci (the registry is the only thing it reaches).
# The machine's trust store goes along, for registries reached through a TLS-intercepting proxy.
CA_ARGS=()
HOST_CA=/etc/ssl/certs/ca-certificates.crt
[ -f "$HOST_CA" ] && CA_ARGS=(--volume "$HOST_CA:/run/host-ca.crt:ro" --build-arg NODE_EXTRA_CA_CERTS=/run/host-ca.crt)
buildah bud --quiet --layers --network host "${CA_ARGS[@]}" --build-arg "BUILDER=$BUILDER" -t "$IMAGE_REF" \
  -f Dockerfile . >&2
mkdir -p "$(dirname "$OUT")"
rm -f "$OUT.tmp"
buildah push --quiet "$IMAGE_REF" "oci-archive:$OUT.tmp:$IMAGE_REF" >&2
mv "$OUT.tmp" "$OUT"
# Older archives of the same version are superseded by this one.
find "$(dirname "$OUT")" -name "metalpool-$APP_VERSION-*.oci.tar" ! -path "$OUT" -delete
log "built in $((SECONDS - start)) s: $(du -m "$OUT" | cut -f1) MB"
echo "$OUT"
