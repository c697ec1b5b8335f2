# syntax=docker/dockerfile:1

# One image for the API and the worker (`runtime`, the default target) and a separate
# `migrate` target for `prisma migrate deploy`: the Prisma CLI is a devDependency, so it is
# kept out of the runtime image and shipped only in the image that applies migrations.
#
#   docker build -t holdfast .                            # runtime: api + worker
#   docker build --target migrate -t holdfast-migrate .   # one-shot migrations

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS base
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

# --- all dependencies, and the generated Prisma client -------------------------------------
FROM base AS deps
# The root `postinstall` runs `node scripts/prisma.mjs generate`, which reads these files.
# tsconfig.json too: the generator picks the client's import style (`./x.js` or `./x.ts`) from
# it, and without it emits `.ts` imports that compiled JavaScript cannot resolve.
COPY package.json package-lock.json tsconfig.json prisma.config.ts ./
COPY scripts/prisma.mjs scripts/prisma.mjs
COPY prisma/schema.prisma prisma/schema.prisma
# The project runs Prisma with the JS engine and the pg driver adapter (prisma.config.ts), so no
# native engine is needed. Pointing these at an existing file stops @prisma/engines' postinstall
# from downloading engines that would never be used (same trick as scripts/prisma.mjs).
RUN --mount=type=cache,target=/root/.npm \
    PRISMA_SCHEMA_ENGINE_BINARY=/app/scripts/prisma.mjs \
    PRISMA_QUERY_ENGINE_LIBRARY=/app/scripts/prisma.mjs \
    npm ci

# --- TypeScript -> dist/ ---------------------------------------------------------------------
FROM deps AS build
# The whole context (see .dockerignore); tsconfig.build.json decides what is compiled. The
# context has no generated/, so the client generated above is kept.
COPY . .
# Then the workflow code, bundled once here rather than by every worker at every start (docs/performance.md).
RUN npx tsc -p tsconfig.build.json \
 && node dist/workers/workflow-bundle.js dist/workflow-bundle.js

# --- one-shot migrations: full dependencies, because the Prisma CLI is a devDependency -------
FROM deps AS migrate
COPY prisma/migrations prisma/migrations
ENV NODE_ENV=production
# The base image's `node` user, by number so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
CMD ["node", "scripts/prisma.mjs", "migrate", "deploy"]

# --- production dependencies only ------------------------------------------------------------
FROM deps AS prod-deps
RUN npm prune --omit=dev

# --- runtime: API and worker -----------------------------------------------------------------
FROM base AS runtime
# Production is also what lib/config.ts assumes when APP_ENV is unset; saying so keeps the image's mode explicit.
ENV NODE_ENV=production \
    APP_ENV=production \
    NODE_OPTIONS=--enable-source-maps
# Files stay owned by root: the app runs as `node` and cannot rewrite its own code.
COPY package.json ./
COPY --from=prod-deps /app/node_modules node_modules
# dist/generated/prisma is the compiled Prisma client; lib/db.ts imports it from there.
COPY --from=build /app/dist dist
# tsc compiles only TypeScript: the console's templates and stylesheet are read at run time beside its code.
COPY --from=build /app/api/console/views dist/api/console/views
COPY --from=build /app/api/console/assets dist/api/console/assets
# The local file store (FILE_STORE_DIR in docker-compose.yml) is the one place the app writes.
# A named volume mounted here copies this directory's owner on first use, so it starts writable
# by uid 1000 without a root init step.
RUN mkdir -p /var/lib/holdfast/files && chown 1000:1000 /var/lib/holdfast/files
ENV FILE_STORE_DIR=/var/lib/holdfast/files \
    WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js
USER 1000:1000
# 3000: API (API_PORT). 9464: worker Prometheus metrics (WORKER_METRICS_PORT), on loopback until
# WORKER_METRICS_HOST=0.0.0.0 lets a scraper outside the container reach it.
EXPOSE 3000 9464
CMD ["node", "dist/api/server.js"]
