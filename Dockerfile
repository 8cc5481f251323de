# One image for every Onelink process: web replicas (ONELINK_WORKER=false) and the worker
# (ONELINK_WORKER=only) differ only in their environment. Deploying it: docs/deploy.md.
#
#   docker build -t onelink .
#   docker run -p 4000:4000 -e DATABASE_URL=… -e ONELINK_ENCRYPTION_KEY=… -e ONELINK_VAPID_…=… onelink

# Node 22, the LTS line the README recommends (package.json "engines" also allows 20.19+ and 24); the tag follows the newest 22.x.
ARG NODE_IMAGE=node:22-bookworm-slim

# ---- build: every dependency, then the web pages (landing page, dashboard apps, portals) into dist/web
# and the server as plain JavaScript with its migrations into dist/server
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# The apps import a few shared rules from extension/ (statuses, priorities, permissions).
COPY dashboard-apps ./dashboard-apps
COPY extension ./extension
COPY webhooks ./webhooks
COPY migrations ./migrations
RUN npm run build && npm run build:server

# ---- runtime: production dependencies, the built server and pages, and the TypeScript sources for the
# command-line tools (npm run onelink, migrate), which tsx runs as they are
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY extension ./extension
COPY webhooks ./webhooks
COPY migrations ./migrations
COPY --from=build /app/dist/web ./dist/web
COPY --from=build /app/dist/server ./dist/server
# Everything above stays root's and read-only to the service. Only .data is its own: the embedded
# Postgres (when DATABASE_URL is unset) and local files live there; mount a volume on it to keep them.
RUN mkdir -p .data && chown 1000:1000 .data && chmod 700 .data
# The image's "node" user, by number so orchestrators that refuse root can check it.
USER 1000:1000
EXPOSE 4000
# /health/ready: 200 once the database answers and every migration is applied (a worker serves it too).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/health/ready').then((res) => process.exit(res.ok ? 0 : 1), () => process.exit(1))"]
# node itself is PID 1 (no npm or shell in between), so SIGTERM reaches the server's graceful shutdown;
# the built server needs no TypeScript loader (about 40 MB less per process).
CMD ["node", "dist/server/server.mjs"]
