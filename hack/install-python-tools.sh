#!/usr/bin/env bash
# Installs sushy-tools (OpenStack's Redfish emulator, the real BMC stand-in for tests) into a cached venv,
# pinned by SUSHY_TOOLS_VERSION (hack/versions.env). Idempotent: an intact venv of the pinned version is
# kept; a partial or different one is rebuilt. All its dependencies (Flask, bcrypt for the htpasswd auth
# file, …) come as wheels, so nothing is compiled. Prints the venv's bin directory.
. "$(dirname "$0")/lib.sh"
VENV="$METALPOOL_CACHE/venv-sushy-tools-$SUSHY_TOOLS_VERSION"

installed() {
  [ -x "$VENV/bin/sushy-emulator" ] || return 1
  local version
  version="$("$VENV/bin/python" -c 'import importlib.metadata as m, bcrypt; print(m.version("sushy-tools"))' 2>/dev/null)" || return 1
  [ "$version" = "$SUSHY_TOOLS_VERSION" ]
}

if ! installed; then
  log "installing sushy-tools $SUSHY_TOOLS_VERSION from PyPI into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: \
    "sushy-tools==$SUSHY_TOOLS_VERSION" >&2
  installed || { log "sushy-tools $SUSHY_TOOLS_VERSION did not install cleanly"; exit 1; }
fi
echo "$VENV/bin"
