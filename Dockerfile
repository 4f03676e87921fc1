# syntax=docker/dockerfile:1
# Tessera: multi-stage build; the runtime image has production dependencies only, runs as
# a non-root user, listens on 0.0.0.0, and is checked by bin/healthcheck.js (HTTP, or HTTPS
# when TLS_CERT_FILE is set).

# Both stages: Node's Active LTS line, 26 ("Lithium", LTS since 2026-10-28, supported until
# 2029-04-30), on Debian 13 (trixie), pinned by tag. To pin it exactly, append the tag's
# digest: --build-arg NODE_IMAGE=node:26-trixie-slim@sha256:<digest>.
ARG NODE_IMAGE=node:26-trixie-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# argon2 is compiled here: its bundled prebuilt binary was seen to crash on Debian 12.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# The workspace package's manifest, so npm ci can link it (node_modules/@tessera/verifier).
COPY packages/verifier/package.json ./packages/verifier/
# Scripts stay off until the sources are here (prepare would build too early); then
# only argon2's own install step runs, building it against this image's Node.
RUN npm ci --ignore-scripts && npm rebuild argon2
# The CycloneDX SBOM of what ships: the lockfile's production dependencies (the workspace
# package included), written before npm prune takes the generator away. The runtime stage
# copies it to /app/sbom.cdx.json (label io.tessera.sbom). It lists npm packages only; for
# the base image's Debian packages too, build with `docker buildx build --sbom=true`, which
# attaches BuildKit's own SBOM attestation to the image.
RUN npm run sbom --silent
COPY tsconfig.json tsconfig.build.json ./
COPY packages/verifier/tsconfig.json ./packages/verifier/
COPY packages/verifier/src ./packages/verifier/src
COPY src ./src
COPY migrations ./migrations
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM ${NODE_IMAGE} AS runtime
ARG NODE_IMAGE
ARG VERSION=0.1.0
ARG REVISION=
ARG CREATED=
ARG SOURCE=
LABEL org.opencontainers.image.title="Tessera" \
      org.opencontainers.image.description="OAuth 2 / OpenID Connect token service" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.base.name="docker.io/library/${NODE_IMAGE}" \
      io.tessera.sbom="/app/sbom.cdx.json"
# GLIBC_TUNABLES: a fixed mmap threshold, so glibc hands each argon2 work area
# (ARGON2_MEMORY_KIB, 19 MiB) back after the hash instead of keeping one per libuv thread.
ENV NODE_ENV=production \
    GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072 \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/var/lib/tessera
# npm is not needed to run: one package fewer to patch. The user owns only its data folders;
# the code stays root's, read-only to the process.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/bin/npm /usr/local/bin/npx \
 && groupadd --system --gid 10001 tessera \
 && useradd --system --uid 10001 --gid tessera --home-dir /app --shell /usr/sbin/nologin tessera \
 && mkdir -p /var/lib/tessera /app/keys \
 && chown tessera:tessera /var/lib/tessera /app/keys
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
# node_modules/@tessera/verifier is a link to the compiled workspace package.
COPY --from=build /app/packages/verifier/package.json ./packages/verifier/
COPY --from=build /app/packages/verifier/dist ./packages/verifier/dist
COPY --from=build /app/dist ./dist
# The hosted pages' and the mails' templates and the stylesheet are read at start (tsc does not copy them).
COPY --from=build /app/src/pages/templates ./src/pages/templates
COPY --from=build /app/src/mail/templates ./src/mail/templates
COPY --from=build /app/src/pages/assets ./src/pages/assets
COPY --from=build /app/sbom.cdx.json ./
COPY package.json openapi.yaml LICENSE ./
# bin/tessera.js (the command) and bin/healthcheck.js (the HEALTHCHECK below).
COPY bin ./bin
# Numeric, so an orchestrator's runAsNonRoot can tell without reading /etc/passwd.
USER 10001:10001
EXPOSE 3000
# node is PID 1 (exec form, no shell, no npm): SIGTERM reaches it, and `tessera serve`
# handles SIGTERM and SIGINT itself (a graceful close within SHUTDOWN_TIMEOUT). It starts
# no child processes, so there is nothing to reap and no init (tini, --init) is needed.
STOPSIGNAL SIGTERM
# Liveness on /healthz; `node /app/bin/healthcheck.js readyz` checks readiness instead.
# --start-interval needs Docker Engine 25 or newer.
HEALTHCHECK --interval=30s --timeout=3s --start-period=60s --start-interval=2s --retries=3 \
  CMD ["node", "/app/bin/healthcheck.js"]
CMD ["node", "bin/tessera.js", "serve"]
