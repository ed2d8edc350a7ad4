// Clean shutdown with connected clients: they get 1001 (going away), the process exits 0.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startRuntime } from '../helpers/runtime.js';
import { TestClient } from '../helpers/ws-client.js';

/** A port nobody listens on right now (for the embedded PostgreSQL of a child process). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

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
    const env: NodeJS.ProcessEnv = {
      ...process.env, WEBSOCKET_PORT: '0', HOST: '127.0.0.1', SYMBOLS: 'US.AAPL,ETH-USD', SHARDS: '2',
      DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()),
    };
    delete env.DATABASE_URL;
    delete env.REDIS_URL;
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const port = await new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no listening line in: ${out}`)), 20_000);
      child.stdout.on('data', () => {
        const m = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
        if (m) {
          clearTimeout(t);
          resolve(Number(m[1]));
        }
      });
    });
    expect(out).toMatch(/embedded PostgreSQL on 127\.0\.0\.1/);
    const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { components: Record<string, { status: string; detail?: string }> };
    expect(health.components.database).toEqual({ status: 'ok', detail: 'PostgreSQL (embedded)' });
    const c = await TestClient.connect(`ws://127.0.0.1:${port}/ws`);
    c.send({ action: 'subscribe', symbol: 'ETH-USD' });
    await c.waitFor((m) => m.type === 'orderbook_update');
    child.kill('SIGTERM');
    expect(await c.closed).toBe(1001);
    expect(await exited).toBe(0);
    expect(out).toMatch(/Redis tier off/); // its own line after "listening": checked once all output is in
    expect(out).toMatch(/SIGTERM: stopping/);
    expect(out).toMatch(/stopped/);
    rmSync(dataDir, { recursive: true, force: true });
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
