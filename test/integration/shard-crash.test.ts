// A shard killed mid-stream is restarted from the shared memory: its subscribers continue
// gap-free (or get a resync with a new epoch), and the symbol's history survives.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shardOf } from '../../src/actors/supervisor/router.js';
import pg from 'pg';
import { type Runtime, createDeployment, sleep, startRuntime } from '../helpers/runtime.js';
import { type Msg, TestClient } from '../helpers/ws-client.js';

const SYMBOLS = ['US.AAPL', 'US.MSFT', 'BTC-USD', 'ETH-USD', 'US.NVDA', 'SOL-USD'];
let rt: Runtime;
let dep: Awaited<ReturnType<typeof createDeployment>>;
beforeAll(async () => {
  dep = await createDeployment(); // kept after stop(): the stored rows are checked at the end
  rt = await startRuntime({ shards: 2, symbols: SYMBOLS, simUpdatesPerSecond: 500, historyResolutionMs: 100, restartBackoffMs: 50 }, dep);
  await sleep(1000);
});
afterAll(async () => {
  await rt?.stop();
  await dep?.drop();
});

/** Gap-free, or a resync that starts a new epoch: the two outcomes a client can act on. */
function crashProblems(stream: Msg[]): string[] {
  const problems: string[] = [];
  let epoch: number | undefined;
  let seq: number | undefined;
  for (const m of stream) {
    if (m.type === 'historical_data' || m.type === 'orderbook_snapshot') {
      epoch = m.epoch;
      seq = m.seq;
    } else if (m.type === 'resync') {
      if (m.epoch === epoch && m.reason === 'epoch_changed') problems.push(`resync without a new epoch at ${m.seq}`);
      epoch = m.epoch;
      seq = m.seq;
    } else if (m.type === 'orderbook_update') {
      if (m.epoch !== epoch || m.seq !== seq! + 1) problems.push(`after ${epoch}/${seq} got ${m.epoch}/${m.seq}`);
      epoch = m.epoch;
      seq = m.seq;
    }
  }
  return problems;
}

describe('shard crash', () => {
  it('restarts the shard; subscribers see no unexplained gap; history survives', async () => {
    const victims = SYMBOLS.filter((s) => shardOf(s, 2) === 0);
    expect(victims.length).toBeGreaterThan(0);
    const c = await TestClient.connect(rt.ws);
    for (const s of victims) c.send({ action: 'subscribe', symbol: s });
    for (const s of victims) await c.waitFor((m) => m.symbol === s && m.type === 'orderbook_update');
    const history = c.messages.find((m) => m.type === 'historical_data' && m.symbol === victims[0])!;
    const firstPointBefore = (history.data as { time: string }[])[0].time;
    const seqBefore = c.stream(victims[0]).at(-1)!.seq!;

    await rt.sup.killShard(0);
    for (let i = 0; i < 100 && rt.sup.shardState(0) !== 'running'; i++) await sleep(20);
    await sleep(100);
    expect(rt.sup.shardState(0)).toBe('running');
    // Updates flow again after the restart.
    await c.waitFor((m) => m.symbol === victims[0] && m.type === 'orderbook_update' && m.seq! > seqBefore + 200, 10_000);
    c.close();

    for (const s of victims) expect(crashProblems(c.stream(s)), s).toEqual([]);

    const stats = await rt.get<{ restarts: number; shards: { index: number; accepted: number }[] }>('/stats');
    expect(stats.body.restarts).toBeGreaterThanOrEqual(1);

    // A new subscriber still gets the whole day, from before the crash.
    const late = await TestClient.connect(rt.ws);
    late.send({ action: 'subscribe', symbol: victims[0] });
    const h = await late.waitFor((m) => m.type === 'historical_data');
    late.close();
    expect((h.data as { time: string }[])[0].time).toBe(firstPointBefore);
    expect(h.seq!).toBeGreaterThan(seqBefore);

    // Persistence across the crash: after a graceful stop every accepted update is stored once.
    const seenLast = new Map(victims.map((s) => [s, c.stream(s).at(-1)!.seq!]));
    await rt.stop();
    const db = new pg.Client(dep.url);
    await db.connect();
    const r = await db.query<{ symbol: string; epoch: string; n: string; lo: string; hi: string; distinct_seqs: string }>(
      `select symbol, epoch, count(*) n, min(seq) lo, max(seq) hi, count(distinct seq) distinct_seqs
         from order_book_data group by symbol, epoch`);
    await db.end();
    expect(r.rows.length).toBe(SYMBOLS.length); // one epoch per symbol: the crash did not restart any sequence
    for (const row of r.rows) {
      expect(Number(row.lo), row.symbol).toBe(1);
      expect(Number(row.n), row.symbol).toBe(Number(row.hi)); // no gap
      expect(Number(row.distinct_seqs), row.symbol).toBe(Number(row.n)); // no duplicate
      if (seenLast.has(row.symbol)) expect(Number(row.hi)).toBeGreaterThanOrEqual(seenLast.get(row.symbol)!);
    }
  });
});
