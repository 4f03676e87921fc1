# syntax=docker/dockerfile:1
# Tessera: multi-stage build; the runtime image has production dependencies only,
# runs as a non-root user and listens on 0.0.0.0.

FROM node:20-bookworm-slim AS build
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
COPY tsconfig.json tsconfig.build.json ./
COPY packages/verifier/tsconfig.json ./packages/verifier/
COPY packages/verifier/src ./packages/verifier/src
COPY src ./src
COPY migrations ./migrations
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM node:20-bookworm-slim AS runtime
# GLIBC_TUNABLES: a fixed mmap threshold, so glibc hands each argon2 work area
# (ARGON2_MEMORY_KIB, 19 MiB) back after the hash instead of keeping one per libuv thread.
ENV NODE_ENV=production \
    GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072 \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/var/lib/tessera
RUN groupadd --system --gid 10001 tessera \
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
COPY package.json openapi.yaml LICENSE ./
COPY bin ./bin
USER tessera:tessera
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "bin/tessera.js", "serve"]
