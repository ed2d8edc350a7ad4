// Start-up failures an operator meets: each stops the process at once with one line naming the cause and the fix.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { type Server, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeployment } from '../helpers/runtime.js';
import { type MainProcess, freePort, startMain } from '../helpers/main-process.js';

type Deployment = Awaited<ReturnType<typeof createDeployment>>;
let dep: Deployment;
let first: MainProcess;
let firstPort: number;
const cheap = { SYMBOLS: 'US.AAPL', SHARDS: '1', SIM_UPDATES_PER_SECOND: '20', LOG_LEVEL: 'info' };

/** The process's error lines (its last line is the one that matters). */
const errorLines = (out: string) => out.split('\n').filter((l) => / error /.test(l));

function holdPort(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve(srv));
  });
}

beforeAll(async () => {
  dep = await createDeployment();
  // A fixed port, as an operator's: a server bound to port 0 gets an ephemeral port that a
  // reuse-port listener could not join anyway, which would hide the sharing this file tests.
  first = startMain({ ...cheap, DATABASE_URL: dep.url, DATA_DIR: dep.dataDir, WEBSOCKET_PORT: String(await freePort()) });
  firstPort = await first.port();
});

afterAll(async () => {
  first?.child.kill('SIGTERM');
  await first?.exited;
  await dep?.drop();
});

describe('start-up failures', () => {
  it('a second tickplant on a taken WEBSOCKET_PORT exits 1 within 2 s with one line naming the port', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tickplant-second-'));
    const t0 = Date.now();
    const second = startMain({ ...cheap, DATABASE_URL: dep.url, DATA_DIR: dataDir, WEBSOCKET_PORT: String(firstPort) });
    expect(await second.exited).toBe(1);
    expect(Date.now() - t0).toBeLessThan(2000);
    const errors = errorLines(second.output);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`port ${firstPort}`);
    expect(errors[0]).toContain('WEBSOCKET_PORT');
    expect(second.output).not.toMatch(/listening/);
    // The first one still serves every request: nothing was shared.
    const r = await fetch(`http://127.0.0.1:${firstPort}/stats`);
    expect(r.status).toBe(200);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('the front listens exclusively: a uWS server with default (reuse-port) options cannot join its port', () => {
    const probe = `import('uWebSockets.js').then(({ default: uWS }) => uWS.App().listen('127.0.0.1', ${firstPort}, (s) => { process.stdout.write(s ? 'listening' : 'refused'); process.exit(0); }))`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8', timeout: 10_000 });
    expect(r.stdout).toBe('refused');
  });

  it('a WEBSOCKET_PORT held by another program: exit 1, one line naming the port', async () => {
    const port = await freePort();
    const other = await holdPort(port);
    const p = startMain({ ...cheap, PERSIST: 'false', WEBSOCKET_PORT: String(port) });
    expect(await p.exited).toBe(1);
    const errors = errorLines(p.output);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(new RegExp(`port ${port} on 127\\.0\\.0\\.1 is taken by another process \\(WEBSOCKET_PORT\\)`));
    other.close();
  });

  it('a DATA_DIR held by a running tickplant: exit 1, one line naming the directory and its pid', async () => {
    const p = startMain({ ...cheap, DATABASE_URL: dep.url, DATA_DIR: dep.dataDir, WEBSOCKET_PORT: '0' });
    expect(await p.exited).toBe(1);
    const errors = errorLines(p.output);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`data directory ${dep.dataDir} is in use by tickplant pid ${first.child.pid}`);
    expect(errors[0]).toContain('DATA_DIR');
  });

  it('an EMBEDDED_PG_PORT held by another program: exit 1, one line naming EMBEDDED_PG_PORT', async () => {
    const port = await freePort();
    const other = await holdPort(port);
    const dataDir = mkdtempSync(join(tmpdir(), 'tickplant-pgport-'));
    const p = startMain({ ...cheap, DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(port), WEBSOCKET_PORT: '0' });
    expect(await p.exited).toBe(1);
    const errors = errorLines(p.output);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`port ${port} on 127.0.0.1 is taken by another process`);
    expect(errors[0]).toContain('EMBEDDED_PG_PORT');
    expect(p.output).not.toMatch(/undefined/);
    other.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
});
