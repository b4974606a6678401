# Build stage: install everything, compile TypeScript, then keep production dependencies only.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY providers ./providers
COPY bench ./bench
COPY test/support ./test/support
RUN npm ci && npm prune --omit=dev

# Runtime stage: the compiled service and its production dependencies, as a non-root user.
FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER node
EXPOSE 9090 8080 9440
ENTRYPOINT ["node", "dist/src/main.js"]
CMD ["--config-dir", "/etc/herald"]
