#!/usr/bin/env bash
# Copies the real upstream CRDs of Tinkerbell and machine-controller out of their Go modules at the
# pinned versions into the cache. Prints the directory (tinkerbell/*.yaml, machine-controller/*.yaml).
. "$(dirname "$0")/lib.sh"
OUT="$METALPOOL_CACHE/upstream-crds/tinkerbell-v$TINKERBELL_VERSION+mc-v$MACHINE_CONTROLLER_VERSION"
if [ -f "$OUT/.complete" ]; then echo "$OUT"; exit 0; fi
WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
moddir() { (cd "$WORK" && GONOSUMDB=k8c.io GOFLAGS=-mod=mod go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'); }
TINK="$(moddir "github.com/tinkerbell/tinkerbell@v$TINKERBELL_VERSION")"
MC="$(moddir "k8c.io/machine-controller@v$MACHINE_CONTROLLER_VERSION")"
rm -rf "$OUT"; mkdir -p "$OUT/tinkerbell" "$OUT/machine-controller"
cp "$TINK"/crd/bases/v1alpha1/*.yaml "$OUT/tinkerbell/"
# machine-controller ships its CRDs as the first three documents (Machine, MachineSet, MachineDeployment)
# of examples/machine-controller.yaml; split them out unchanged.
awk -v out="$OUT/machine-controller" '
  /^---/ { n++; next }
  n < 3 { print > (out "/crd-" n ".yaml") }
' n=0 "$MC/examples/machine-controller.yaml"
chmod -R u+w "$OUT"
touch "$OUT/.complete"
echo "$OUT"
