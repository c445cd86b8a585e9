#!/usr/bin/env bash
# Installs everything the tests and the sandbox need, from nothing: Debian packages (as root), the pinned
# Node.js, npm packages. Idempotent and quick when everything is already there.
. "$(dirname "$0")/lib.sh"
# The image build (buildah, mmdebstrap) and the single-node cluster (containerd, runc, CNI plugins, iptables and
# conntrack for kube-proxy) come from Debian too.
DEBIAN_PACKAGES=(etcd-server qemu-system-x86 ipxe-qemu ovmf iproute2 python3-venv openssl ca-certificates git faketime
  buildah mmdebstrap skopeo containerd runc containernetworking-plugins iptables conntrack libcap2-bin)
missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    log "missing Debian packages (run as root or install them): ${missing[*]}"; exit 1
  fi
fi
command -v go >/dev/null || { log "Go is required to build kube-apiserver from its module"; exit 1; }
bash "$HACK_DIR/install-python-tools.sh" >/dev/null
NODE_BIN="$(bash "$HACK_DIR/install-node.sh")"
export PATH="$NODE_BIN:$PATH"
cd "$REPO_DIR"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi
