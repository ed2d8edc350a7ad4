# tickplant: build with `docker build -t tickplant .`, run with `docker run -p 8000:8000 tickplant`.
# Node 20 on Debian bookworm: the uWebSockets.js build we pin needs glibc 2.36 and Node's ABI 115.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY workers ./workers
COPY bench ./bench
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production WEBSOCKET_PORT=8000
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config ./config
EXPOSE 8000
# SIGTERM drains and exits 0; give it the time the supervisor allows itself (15 s).
STOPSIGNAL SIGTERM
USER node
CMD ["node", "dist/src/main.js"]
