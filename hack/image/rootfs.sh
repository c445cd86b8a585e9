#!/bin/sh
# Lays out the runtime root filesystem of the metalpool image under $1, from inside the build stage (see
# Dockerfile): Node and the shared libraries it links, the built app with production node_modules, a non-root
# user, and the two commands. Nothing here runs a shell at run time.
set -eu
R="$1"
NODE="$(command -v node)"
mkdir -p "$R/usr/local/bin" "$R/usr/local/lib/metalpool" "$R/app" "$R/etc" "$R/tmp" "$R/home/nonroot"
cp "$NODE" "$R/usr/local/bin/node"

# Discovery binds UDP port 67. Kubernetes gives a non-root container no ambient capabilities, so an added
# NET_BIND_SERVICE never reaches the process; a file capability on the binary it executes does (the kernel
# grants it at exec, bounded by the container's capability set, also under allowPrivilegeEscalation: false).
# Only this copy of Node carries it, so the operator runs without.
cp "$NODE" "$R/usr/local/lib/metalpool/node-net-bind"
setcap cap_net_bind_service=+ep "$R/usr/local/lib/metalpool/node-net-bind"

# The bin entries of package.json, as scripts whose interpreter line names Node itself: the kernel executes
# the interpreter directly (no /usr/bin/env, no shell), so the file capability above applies.
printf '#!/usr/local/bin/node\nimport("/app/dist/operator/main.js");\n' > "$R/usr/local/bin/metalpool-operator"
printf '#!/usr/local/lib/metalpool/node-net-bind\nimport("/app/dist/discovery/main.js");\n' > "$R/usr/local/bin/metalpool-discovery"
chmod 0755 "$R/usr/local/bin/metalpool-operator" "$R/usr/local/bin/metalpool-discovery"

# Every shared library Node links, at the path the dynamic loader looks for it.
ldd "$NODE" | awk '/=> \//{print $3} /^\t\/[^ ]+ \(/{print $1}' | while read -r lib; do
  mkdir -p "$R$(dirname "$lib")"
  cp -L "$lib" "$R$lib"
done
[ -f /etc/ssl/certs/ca-certificates.crt ] && mkdir -p "$R/etc/ssl/certs" && cp /etc/ssl/certs/ca-certificates.crt "$R/etc/ssl/certs/"

printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$R/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$R/etc/group"
chmod 1777 "$R/tmp"
chown 65532:65532 "$R/home/nonroot"

cp -a package.json node_modules dist crds "$R/app/"
