// Clean shutdown with connected clients: they get 1001 (going away), the process exits 0.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startRuntime } from '../helpers/runtime.js';
import { TestClient } from '../helpers/ws-client.js';
import { freePort, startMain } from '../helpers/main-process.js';

describe('shutdown', () => {
  it('stop() closes connected clients with 1001 after draining', async () => {
    const rt = await startRuntime({ shards: 2, symbols: ['US.AAPL', 'BTC-USD'], simUpdatesPerSecond: 300 });
    const clients = await Promise.all([1, 2, 3].map(() => TestClient.connect(rt.ws)));
    for (const c of clients) c.send({ action: 'subscribe', symbol: 'US.AAPL' });
    for (const c of clients) await c.waitFor((m) => m.type === 'orderbook_update');
    await rt.stop();
    expect(await Promise.all(clients.map((c) => c.closed))).toEqual([1001, 1001, 1001]);
    await expect(fetch(rt.http + '/health')).rejects.toThrow(); // listen socket closed
  });

  it('the real process, with no DATABASE_URL, runs embedded PostgreSQL and exits 0 on SIGTERM with clients connected', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tickplant-main-'));
    const p = startMain({ WEBSOCKET_PORT: '0', SYMBOLS: 'US.AAPL,ETH-USD', SHARDS: '2', DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()) });
    const port = await p.port(20_000);
    expect(p.output).toMatch(/embedded PostgreSQL on 127\.0\.0\.1/);
    const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { components: Record<string, { status: string; detail?: string }> };
    expect(health.components.database).toEqual({ status: 'ok', detail: 'PostgreSQL (embedded)' });
    const c = await TestClient.connect(`ws://127.0.0.1:${port}/ws`);
    c.send({ action: 'subscribe', symbol: 'ETH-USD' });
    await c.waitFor((m) => m.type === 'orderbook_update');
    p.child.kill('SIGTERM');
    expect(await c.closed).toBe(1001);
    expect(await p.exited).toBe(0);
    expect(p.output).toMatch(/Redis tier off/); // its own line after "listening": checked once all output is in
    expect(p.output).toMatch(/SIGTERM: stopping/);
    expect(p.output).toMatch(/stopped: \d+ updates accepted, \d+ rows committed, 0 journaled/);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('check-config prints the configuration without a password, in or beside a URL', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--check-config'], {
      env: { ...process.env, DATABASE_URL: 'postgres://u:pg-secret@db.example/tp', REDIS_URL: 'redis://:redis-secret@cache.example:6379', REDIS_PASSWORD: 'other-secret' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    expect(await new Promise<number | null>((r) => child.on('exit', (c) => r(c)))).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ databaseUrl: 'postgres://u:***@db.example/tp', redisUrl: 'redis://:***@cache.example:6379', redisPassword: '***' });
    expect(out).not.toMatch(/secret/);
  });

  it('stops at start-up with one clear line for bad configuration', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, WEBSOCKET_PORT: 'eighty' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code).toBe(1);
    expect(err.trim().split('\n')).toHaveLength(1);
    expect(err).toMatch(/WEBSOCKET_PORT/);
  });
});
