// Test runner configuration: real worker threads and sockets, so one process per file.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Once per run: creates DATABASE_URL's database if missing, fails at once without PostgreSQL or Redis.
    globalSetup: ['test/global-setup.ts'],
    // frame-check.ts: every frame a TestClient receives must match its docs/protocol schema.
    setupFiles: ['test/setup.ts', 'test/frame-check.ts'],
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results.json' },
  },
});
