# Herald's container image.
#   docker build -t herald:0.1.0 .
# Build stage: install every dependency (npm ci runs `prepare`, which compiles the TypeScript),
# then drop the development dependencies.
ARG NODE_IMAGE=node:24-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY providers ./providers
RUN npm ci --no-audit --no-fund \
 && npm prune --omit=dev --no-audit --no-fund

# Runtime stage: the compiled service, its production dependencies and package.json (which
# makes the compiled files ES modules), run as the image's unprivileged `node` user, by number
# so that Kubernetes' runAsNonRoot can check it.
FROM ${NODE_IMAGE}
ENV NODE_ENV=production
# Two malloc arenas instead of glibc's eight per core: the memory V8's compiler threads and the
# delivery thread free is handed back instead of staying spread over arenas (idle RSS about
# 95–102 MiB instead of 99–125 MiB, the same deliveries/s; README "Performance").
ENV MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/providers ./dist/providers
# The web console's static files, read at startup from the source tree's place (src/server/console.ts).
COPY --from=build /app/src/server/console ./src/server/console
COPY package.json ./
USER 1000:1000
# events, metrics, health
EXPOSE 9090 8080 9440
# A young generation of 2 x 4 MB instead of V8's 2 x 16 MB: about 24 MB less resident memory
# under load, for a few more (short) scavenges; the old generation collected once it has grown
# by half (V8 lets it grow up to four times): peak RSS under load 153-160 MiB instead of
# 180-243 MiB, for about 5 % of deliveries/s. README "Performance" has the figures.
ENTRYPOINT ["node", "--max-semi-space-size=4", "--heap-growing-percent=50", "dist/src/main.js"]
CMD ["--config-dir", "/etc/herald"]
