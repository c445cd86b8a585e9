# Shared helpers for hack/ scripts. Sourced, not executed.
set -euo pipefail
HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$HACK_DIR")"
# shellcheck source=versions.env
. "$HACK_DIR/versions.env"
METALPOOL_CACHE="${METALPOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/metalpool}"
mkdir -p "$METALPOOL_CACHE"
log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
