# invite-code-repair: the repair (init container / start step) and the probe.
#   docker build -t invite-code-repair .
#   docker run -e DATABASE_URL=postgresql://... -p 8081:8081 invite-code-repair
# With no command it serves the probe from its first second and repairs
# meanwhile; with a command it repairs, then execs the command (see start.sh).
FROM node:24.9.0-bookworm-slim

WORKDIR /app
ENV NODE_ENV=production \
    HEALTH_PORT=8081 \
    INVITE_CODE_RUNTIME=node

# Dependencies in their own layer, exactly as the lockfile pins them. Runtime
# dependencies have no install scripts; the devDependencies (toolchains for
# tests) stay out of the image. The SQLCipher library (encrypted
# SQLite) stays in, with only this platform's prebuilt binary: its sources
# and the other platforms' binaries are for building elsewhere (34 MB -> ~4 MB).
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force \
 && cipher=node_modules/better-sqlite3-multiple-ciphers \
 && rm -rf "$cipher/deps" "$cipher/src" \
 && find "$cipher/prebuilds" -type f ! -name "linux-$(node -p process.arch).node" -delete

COPY mod.ts health.ts start.sh ./
COPY src/ ./src/
# Node's compile cache, warmed with every module the tool loads, so that a
# fresh container's start skips stripping the TypeScript (~150 ms, ~35 MB).
# Read-only at run time is fine: the cache is only read.
ENV NODE_COMPILE_CACHE=/app/.node-compile-cache
RUN node --input-type=module -e "for (const m of ['mod.ts', 'health.ts', 'src/db/postgres.ts', 'src/db/sqlite.ts', 'src/db/sqlcipher.ts']) await import('/app/' + m)" \
 && chmod -R a+rX /app/.node-compile-cache

USER 1000:1000
EXPOSE 8081
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HEALTH_PORT || 8081) + '/health/invite-codes').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/app/start.sh"]
