// The replay feed end to end: bad lines counted, crossed/locked books rejected and never
// published, a symbol whose feed went quiet reported stale (to subscribers — also those who
// arrive later — /health, /stats), and a symbol with no valid book yet answered with "no_data".
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Runtime, sleep, startRuntime } from '../helpers/runtime.js';
import { TestClient } from '../helpers/ws-client.js';

let rt: Runtime;
let file: string;
const t0 = Date.now();
const line = (symbol: string, i: number, bid: number, ask: number) =>
  JSON.stringify({ symbol, ts: t0 + i, bids: [[bid, 5], [bid - 1, 7]], asks: [[ask, 4], [ask + 1, 9]] });

beforeAll(async () => {
  file = join(mkdtempSync(join(tmpdir(), 'tickplant-replay-')), 'books.ndjson');
  const lines = [
    line('US.AAPL', 0, 100, 101),
    line('US.AAPL', 1, 100.5, 101),
    '{"symbol": "US.AAPL", oops',
    line('US.AAPL', 2, 102, 101), // crossed
    line('US.AAPL', 3, 101, 101), // locked
    line('US.AAPL', 4, 100, 100.5),
    line('ETH-USD', 5, 3000, 3000.5),
  ];
  writeFileSync(file, lines.join('\n') + '\n');
});
afterAll(() => rt?.stop());

describe('replay feed and staleness', () => {
  it('counts malformed lines, rejects crossed and locked books, marks quiet symbols stale', async () => {
    // A subscriber first, so it sees the symbol go stale. The replay starts with the runtime,
    // so subscribe right after start and read whatever state it has reached.
    rt = await startRuntime({ feed: 'replay', replayFile: file, replaySpeed: 0, shards: 1, staleAfterMs: 400 });
    const c = await TestClient.connect(rt.ws);
    // The whole file is replayed at once: wait until the front has published all of it.
    await waitForSymbols(rt, (s) => s.find((x) => x.symbol === 'US.AAPL')?.seq === 3 && s.some((x) => x.symbol === 'ETH-USD' && x.seq === 1));
    c.send({ action: 'subscribe', symbol: 'US.AAPL', resolution: 'none' });
    const snap = await c.waitFor((m) => m.symbol === 'US.AAPL' && m.type === 'orderbook_snapshot');
    expect(snap.seq).toBe(3); // 3 valid books; the crossed and locked ones took no seq
    expect(snap.data).toMatchObject({ best_bid: 100, best_ask: 100.5 });

    const stale = await c.waitFor((m) => m.type === 'status' && m.symbol === 'US.AAPL', 5000);
    expect(stale.status).toBe('stale');

    // A subscriber arriving once the symbol is stale learns it right after its snapshot.
    const late = await TestClient.connect(rt.ws);
    late.send({ action: 'subscribe', symbol: 'ETH-USD' });
    await late.waitFor((m) => m.type === 'status' && m.symbol === 'ETH-USD', 5000);
    expect(late.messages.map((m) => [m.type, m.status])).toEqual([
      ['historical_data', undefined], ['orderbook_snapshot', undefined], ['status', 'stale'],
    ]);
    late.close();

    const stats = await rt.get<{
      feed: { malformed: number; lastMalformed: string };
      shards: { accepted: number; rejected: Record<string, number> }[];
      front: { staleSymbols: string[] };
    }>('/stats');
    expect(stats.body.feed.malformed).toBe(1);
    expect(stats.body.feed.lastMalformed).toMatch(/line 3/);
    expect(stats.body.shards[0].accepted).toBe(4);
    expect(stats.body.shards[0].rejected).toMatchObject({ crossed: 1, locked: 1 });
    expect(stats.body.front.staleSymbols.sort()).toEqual(['ETH-USD', 'US.AAPL']);

    const health = await rt.get<{ status: string; components: Record<string, { status: string; detail?: string }> }>('/health');
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('degraded');
    expect(health.body.components.symbols.detail).toMatch(/US\.AAPL/);
    c.close();
  });
});

describe('a symbol with no valid book yet', () => {
  it('tells its subscribers "no_data", then sends the first valid book as a snapshot', async () => {
    const noBook = join(mkdtempSync(join(tmpdir(), 'tickplant-replay-')), 'books.ndjson');
    const t = Date.now();
    const at = (i: number, bid: number, ask: number, ms: number) =>
      JSON.stringify({ symbol: 'US.MSFT', ts: t + ms, bids: [[bid, 5]], asks: [[ask, 4]] });
    // The first book is crossed (rejected): the symbol is known, with no valid book, for 1.5 s.
    writeFileSync(noBook, [at(0, 402, 401, 0), at(1, 400, 401, 1500), at(2, 400.5, 401, 1600)].join('\n') + '\n');
    const rt2 = await startRuntime({ feed: 'replay', replayFile: noBook, replaySpeed: 1, shards: 1, staleAfterMs: 60_000 });
    try {
      await waitForSymbols(rt2, (s) => s.some((x) => x.symbol === 'US.MSFT'));
      expect((await rt2.get<{ symbols: SymbolRow[] }>('/symbols')).body.symbols).toMatchObject([{ symbol: 'US.MSFT', seq: 0, status: 'no_data' }]);
      const c = await TestClient.connect(rt2.ws);
      c.send({ action: 'subscribe', symbol: 'US.MSFT' });
      const first = await c.waitFor((m) => m.type === 'orderbook_update', 10_000);
      expect(first.seq).toBe(2);
      expect(c.messages.map((m) => [m.type, m.status ?? m.points ?? m.seq])).toEqual([
        ['historical_data', 0], ['status', 'no_data'], ['orderbook_snapshot', 1], ['orderbook_update', 2],
      ]);
      expect(c.messages[2].data).toMatchObject({ best_bid: 400, best_ask: 401 });
      c.close();
    } finally {
      await rt2.stop();
    }
  });
});

type SymbolRow = { symbol: string; seq: number; stale: boolean; status: string };
async function waitForSymbols(r: Runtime, done: (s: SymbolRow[]) => boolean): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if (done((await r.get<{ symbols: SymbolRow[] }>('/symbols')).body.symbols)) return;
    await sleep(20);
  }
  throw new Error('symbols never reached the expected state');
}
