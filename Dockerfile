# metalpool image: both programs on Node 24, distroless-style (no shell, no package manager), non-root (65532),
# ready for a read-only root filesystem. Commands: metalpool-operator (the default) and metalpool-discovery.
#
# Where a registry is reachable:   docker build -t metalpool .
# Offline (no registry):           bash hack/build-image.sh   (assembles BUILDER from Debian + the Node npm package)
#
# BUILDER is any image with Node 24, npm and a POSIX shell (Debian-based: setcap is installed if missing).
# BASE is what the runtime is laid on: `scratch` (default: the build stage supplies Node, the shared libraries it
# links, /etc/passwd and /tmp, so nothing else is needed) or an image of your own to add to it.
ARG BUILDER=docker.io/library/node:24-bookworm-slim
ARG BASE=scratch

FROM ${BUILDER} AS build
# Behind a TLS-intercepting proxy, mount its CA bundle into the build and name it here (hack/build-image.sh
# passes the machine's own trust store).
ARG NODE_EXTRA_CA_CERTS
ENV NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /src
RUN command -v setcap >/dev/null \
 || (apt-get update -qq && apt-get install -y -qq --no-install-recommends libcap2-bin && rm -rf /var/lib/apt/lists/*)
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY tsconfig.json tsconfig.build.json ./
COPY lib lib
COPY operator operator
COPY discovery discovery
RUN npm run build && npm prune --omit=dev --no-audit --no-fund --loglevel=error
COPY crds crds
COPY hack/image/rootfs.sh hack/image/rootfs.sh
RUN sh hack/image/rootfs.sh /rootfs

FROM ${BASE}
COPY --from=build /rootfs/ /
ENV NODE_ENV=production PATH=/usr/local/bin
WORKDIR /app
USER 65532:65532
ENTRYPOINT ["metalpool-operator"]
