# tickplant: build with `docker build -t tickplant .`, run with `docker run -p 8000:8000 tickplant`
# (embedded PostgreSQL in the volume /var/lib/tickplant) or with `-e DATABASE_URL=…` (your own server).
# Node 20 on Debian bookworm: the uWebSockets.js build we pin needs glibc 2.36 and Node's ABI 115.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY workers ./workers
COPY bench ./bench
# The chart page: its sources and the client SDK it bundles (dist/web).
COPY client ./client
COPY web ./web
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production WEBSOCKET_PORT=8000 DATA_DIR=/var/lib/tickplant
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config ./config
# /app stays root-owned (read-only to the service). Everything tickplant writes — the embedded
# PostgreSQL, its log, the writer's journal, the DATA_DIR lock — is under DATA_DIR, owned by the
# unprivileged user, and a volume so it outlives the container.
RUN mkdir -p /var/lib/tickplant && chown node:node /var/lib/tickplant
VOLUME /var/lib/tickplant
EXPOSE 8000
# SIGTERM drains and exits 0; give it the time the supervisor allows itself (15 s).
STOPSIGNAL SIGTERM
USER node
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
  CMD node -e "fetch('http://127.0.0.1:'+process.env.WEBSOCKET_PORT+'/health').then(r=>process.exit(r.status<500?0:1),()=>process.exit(1))"
CMD ["node", "dist/src/main.js"]
