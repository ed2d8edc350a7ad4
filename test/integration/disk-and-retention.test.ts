// What a run costs on disk: plain-PostgreSQL retention deletes old rows, /health reports DATA_DIR's free space, persistence off is fine.
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createDeployment, sleep, startRuntime } from '../helpers/runtime.js';
import { startMain } from '../helpers/main-process.js';

type Health = { status: string; components: Record<string, { status: string; detail?: string }> };
const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

describe('disk', () => {
  it('the writer deletes rows older than RETENTION on plain PostgreSQL, and says so in /stats', async () => {
    const rt = await startRuntime({ shards: 1, symbols: ['US.AAPL'], simUpdatesPerSecond: 50, retention: '1 hour' });
    cleanup.push(() => rt.stop());
    // Rows of two hours ago (a symbol of their own), beside the live ones.
    await rt.db.query(
      `insert into order_book_data (time, symbol, seq, epoch)
       select now() - interval '2 hours' + s * interval '1 ms', 'OLD.ROWS', s, 1 from generate_series(1, 500) s`,
    );
    let left = -1;
    for (let i = 0; i < 100 && left !== 0; i++) {
      await sleep(100);
      left = Number((await rt.db.query(`select count(*) n from order_book_data where symbol = 'OLD.ROWS'`)).rows[0].n);
    }
    expect(left).toBe(0);
    const live = Number((await rt.db.query(`select count(*) n from order_book_data where symbol = 'US.AAPL'`)).rows[0].n);
    expect(live).toBeGreaterThan(0);
    const stats = await rt.get<{ writer: { retention: { by: string; retention: string; deletedRows: number } } }>('/stats');
    expect(stats.body.writer.retention).toMatchObject({ by: 'writer', retention: '1 hour' });
    expect(stats.body.writer.retention.deletedRows).toBeGreaterThanOrEqual(500);
  });

  it('RETENTION defaults to 1 hour for the embedded database and 30 days for a server of one\'s own', () => {
    expect(loadConfig({ TICKPLANT_CONFIG: '' }, {}).retention).toBe('1 hour');
    expect(loadConfig({ TICKPLANT_CONFIG: '', DATABASE_URL: 'postgres://x@127.0.0.1/y' }, {}).retention).toBe('30 days');
    expect(loadConfig({ TICKPLANT_CONFIG: '', RETENTION: '2 days' }, {}).retention).toBe('2 days');
  });

  it('/health reports the free space of DATA_DIR and is degraded below DISK_MIN_FREE_BYTES, logged once', async () => {
    const dep = await createDeployment();
    cleanup.push(() => dep.drop());
    const p = startMain({
      DATABASE_URL: dep.url, DATA_DIR: dep.dataDir, WEBSOCKET_PORT: '0', SYMBOLS: 'US.AAPL', SHARDS: '1',
      DISK_MIN_FREE_BYTES: String(2 ** 50), // more than any disk here has
    });
    cleanup.push(async () => {
      p.child.kill('SIGTERM');
      await p.exited;
    });
    const port = await p.port();
    const h = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as Health;
    expect(h.status).toBe('degraded');
    expect(h.components.disk.status).toBe('degraded');
    expect(h.components.disk.detail).toMatch(/GiB free of .* GiB at .*: below DISK_MIN_FREE_BYTES \(1048576\.0 GiB\); lower RETENTION or free space/);
    expect(p.output.match(/disk space low/g)).toHaveLength(1);
  });

  it('/health is ok with a normal threshold, and with PERSIST=false (a setting, not a fault)', async () => {
    const rt = await startRuntime({ shards: 1, symbols: ['US.AAPL'], diskMinFreeBytes: 1 });
    cleanup.push(() => rt.stop());
    const h = await rt.get<Health>('/health');
    expect(h.body.components.disk).toMatchObject({ status: 'ok' });
    expect(h.body.components.disk.detail).toMatch(/GiB free of .* GiB at /);

    const off = await startRuntime({ shards: 1, symbols: ['US.AAPL'], persist: false });
    cleanup.push(() => off.stop());
    await sleep(200);
    const h2 = await off.get<Health>('/health');
    expect(h2.body.components.database).toEqual({ status: 'ok', detail: 'off (PERSIST=false): nothing is stored' });
    expect(h2.body.status).toBe('ok');
    expect(h2.status).toBe(200);
  });
});
