# metalpool image: both programs, Node 24 LTS. Build: docker build -t metalpool .
# Run: the operator is the default command; discovery is `metalpool-discovery` (host network, NET_BIND_SERVICE).
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY lib lib
COPY operator operator
COPY discovery discovery
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/dist dist
COPY crds crds
RUN ln -s /app/dist/operator/main.js /usr/local/bin/metalpool-operator \
 && ln -s /app/dist/discovery/main.js /usr/local/bin/metalpool-discovery \
 && chmod +x dist/operator/main.js dist/discovery/main.js
USER 65532:65532
ENTRYPOINT ["metalpool-operator"]
