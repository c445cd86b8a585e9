#!/usr/bin/env bash
# Installs sushy-tools (OpenStack's Redfish emulator, the real BMC stand-in for tests) into a cached venv.
# Prints the venv's bin directory.
. "$(dirname "$0")/lib.sh"
VENV="$METALPOOL_CACHE/venv-sushy-tools-$SUSHY_TOOLS_VERSION"
if [ ! -x "$VENV/bin/sushy-emulator" ]; then
  log "installing sushy-tools $SUSHY_TOOLS_VERSION from PyPI"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "sushy-tools==$SUSHY_TOOLS_VERSION" >&2
fi
echo "$VENV/bin"
