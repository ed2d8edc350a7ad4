// The embedded PostgreSQL of `npm start`: Ctrl-C in a terminal stops everything in order, and a crashed run leaves nothing in the way.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../../src/store/embedded.js';
import { logger } from '../../src/log.js';
import { freePort, startMain } from '../helpers/main-process.js';
import { sleep } from '../helpers/runtime.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tickplant-embedded-'));
  dirs.push(d);
  return d;
}

/** Opens the stopped embedded database of `dir` and runs `fn` against it. */
async function withDatabase<T>(dir: string, port: number, fn: (db: pg.Client) => Promise<T>): Promise<T> {
  const server = await startEmbeddedPostgres(dir, port, logger('test'));
  const db = new pg.Client(server.url);
  await db.connect();
  try {
    return await fn(db);
  } finally {
    await db.end();
    await server.stop();
  }
}

describe('embedded PostgreSQL', () => {
  it('SIGINT to the process group of `npm start` at the default load: exit 0 within 3 s, every update committed, none journaled', async () => {
    const dir = dataDir();
    const pgPort = await freePort();
    // The default load: 20 simulator symbols at 100 updates/s each, every update stored.
    const p = startMain({ DATA_DIR: dir, EMBEDDED_PG_PORT: String(pgPort), WEBSOCKET_PORT: '0' }, { npmStart: true, detached: true });
    await p.port(60_000);
    await sleep(3000);
    const t0 = Date.now();
    process.kill(-p.child.pid!, 'SIGINT'); // what Ctrl-C in a terminal does: the whole group
    const code = await p.exited;
    const took = Date.now() - t0;
    expect(code).toBe(0);
    expect(took).toBeLessThan(3000);
    const m = /stopped: (\d+) updates accepted, (\d+) rows committed, (\d+) journaled/.exec(p.output);
    expect(m, p.output).not.toBeNull();
    const [accepted, committed, journaled] = [Number(m![1]), Number(m![2]), Number(m![3])];
    expect(accepted).toBeGreaterThan(3000);
    expect(committed).toBe(accepted);
    expect(journaled).toBe(0);
    expect(p.output).not.toMatch(/ (warn|error) /);

    // None lost: every accepted update is a stored row, each symbol's seqs 1..N without a gap.
    const rows = await withDatabase(dir, pgPort, async (db) => {
      const r = await db.query<{ symbol: string; n: string; lo: string; hi: string }>(
        'select symbol, count(*) n, min(seq) lo, max(seq) hi from order_book_data group by symbol',
      );
      return r.rows;
    });
    expect(rows).toHaveLength(20);
    for (const r of rows) expect([Number(r.lo), Number(r.hi)]).toEqual([1, Number(r.n)]);
    expect(rows.reduce((n, r) => n + Number(r.n), 0)).toBe(accepted);
  });

  it('a run killed without a chance to stop leaves its PostgreSQL running; the next start stops it and starts cleanly', async () => {
    const dir = dataDir();
    const pgPort = await freePort();
    const env = { DATA_DIR: dir, EMBEDDED_PG_PORT: String(pgPort), WEBSOCKET_PORT: '0', SYMBOLS: 'US.AAPL', SHARDS: '1' };
    const crashed = startMain(env);
    await crashed.port(60_000);
    crashed.child.kill('SIGKILL');
    await crashed.exited;
    // The database lives on in its own session (not the crashed process's group).
    const probe = new pg.Client({ host: '127.0.0.1', port: pgPort, user: 'postgres', password: 'tickplant', database: 'tickplant' });
    await probe.connect();
    await probe.end();

    const next = startMain(env);
    await next.port(60_000);
    expect(next.output).toMatch(/stopping the embedded PostgreSQL \(pid \d+\) left running/);
    next.child.kill('SIGTERM');
    expect(await next.exited).toBe(0);
  });
});
