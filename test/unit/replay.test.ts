// ReplayFeed: parsing and malformed-line reporting, pacing, backpressure without loss, loop and stop.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ReplayError, ReplayFeed } from '../../src/feeds/replay.js';
import { KIND_DELTA, KIND_SNAPSHOT, type BookUpdate, type FeedSink } from '../../src/feeds/types.js';

const dir = mkdtempSync(join(tmpdir(), 'tickplant-replay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, lines: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

interface Seen { symbol: string; kind: number; ts: number; bids: number[][]; asks: number[][] }

/** A sink that copies what it accepts (the update is reused) and refuses the offers listed in `refuse`. */
function recorder(refuse: (call: number) => boolean = () => false) {
  const seen: Seen[] = [];
  const malformed: string[] = [];
  let calls = 0;
  const sink: FeedSink = {
    offer(u: BookUpdate): boolean {
      calls++;
      if (refuse(calls)) return false;
      const bids: number[][] = [];
      const asks: number[][] = [];
      for (let i = 0; i < u.bidCount; i++) bids.push([u.bidPx[i], u.bidSz[i]]);
      for (let i = 0; i < u.askCount; i++) asks.push([u.askPx[i], u.askSz[i]]);
      seen.push({ symbol: u.symbol, kind: u.kind, ts: u.exchangeTs, bids, asks });
      return true;
    },
    malformed(reason: string): void { malformed.push(reason); },
  };
  return { sink, seen, malformed, calls: () => calls };
}

const T0 = 1_700_000_000_000;
const MIXED = [
  JSON.stringify({ symbol: 'US.AAPL', ts: T0, type: 'snapshot', bids: [[190, 100], [189.99, 50]], asks: [[190.01, 70]] }),
  '',
  '{"symbol":"US.AAPL","ts":',
  JSON.stringify({ ts: T0, bids: [[1, 1]] }),
  JSON.stringify({ symbol: 'BTC-USD', timestamp: '2024-01-01T12:00:00Z', bid_levels: [{ price: 90000, volume: 0.5 }], ask_levels: [{ price: 90000.5, size: 0.25 }] }),
  JSON.stringify({ symbol: 'US.AAPL', ts: T0 + 5, type: 'delta', bids: [[189.99, 0]], asks: [] }),
  JSON.stringify({ symbol: 'US.AAPL', ts: 'yesterday', bids: [[1, 1]] }),
  JSON.stringify({ symbol: 'US.AAPL', ts: T0, bids: [[190]] }),
  JSON.stringify({ symbol: 'ETH-USD', ts: T0 + 9, bids: [[5, 1], [4, 1], [3, 1], [2, 1]], asks: [[6, 1]] }),
  JSON.stringify({ symbol: 'ETH-USD', ts: T0 + 9, type: 'delta', bids: [[5, 1], [4, 1], [3, 1], [2, 1]] }),
  JSON.stringify({ symbol: 'ETH-USD', bids: [[5, 1]] }),
  JSON.stringify({ symbol: 'ETH-USD', ts: T0, type: 'trade' }),
];

describe('ReplayFeed parsing', () => {
  it('delivers valid lines in order and reports each bad one with its line number', async () => {
    const feed = new ReplayFeed({ path: file('mixed.ndjson', MIXED), speed: 0, maxLevels: 3 });
    const r = recorder();
    feed.start(r.sink);
    await feed.done;
    expect(r.seen).toEqual([
      { symbol: 'US.AAPL', kind: KIND_SNAPSHOT, ts: T0, bids: [[190, 100], [189.99, 50]], asks: [[190.01, 70]] },
      { symbol: 'BTC-USD', kind: KIND_SNAPSHOT, ts: Date.parse('2024-01-01T12:00:00Z'), bids: [[90000, 0.5]], asks: [[90000.5, 0.25]] },
      { symbol: 'US.AAPL', kind: KIND_DELTA, ts: T0 + 5, bids: [[189.99, 0]], asks: [] },
      { symbol: 'ETH-USD', kind: KIND_SNAPSHOT, ts: T0 + 9, bids: [[5, 1], [4, 1], [3, 1]], asks: [[6, 1]] },
    ]);
    expect(r.malformed).toHaveLength(7);
    expect(r.malformed[0]).toBe('line 3: invalid JSON');
    expect(r.malformed[1]).toMatch(/^line 4: symbol: /);
    expect(r.malformed[2]).toMatch(/^line 7: unparseable ts "yesterday"/);
    expect(r.malformed[3]).toMatch(/^line 8: bids\.0/);
    expect(r.malformed[4]).toBe('line 10: delta has more than maxLevels (3) levels on a side');
    expect(r.malformed[5]).toBe('line 11: missing ts');
    expect(r.malformed[6]).toMatch(/^line 12: type: /);
    expect(feed.stats()).toEqual({ lines: 11, accepted: 4, malformed: 7, truncated: 1 }); // the blank line is not counted
  });

  it('rejects done with a ReplayError naming the path when the file cannot be read', async () => {
    const path = join(dir, 'missing.ndjson');
    const feed = new ReplayFeed({ path, speed: 0, maxLevels: 3 });
    feed.start(recorder().sink);
    const err = await feed.done.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(ReplayError);
    expect((err as ReplayError).code).toBe('REPLAY_READ_FAILED');
    expect((err as ReplayError).message).toContain(path);
  });

  it('names the bad option', () => {
    expect(() => new ReplayFeed({ path: 'x', speed: -1, maxLevels: 3 })).toThrow(/speed/);
    expect(() => new ReplayFeed({ path: 'x', speed: 1, maxLevels: 0 })).toThrow(/maxLevels/);
  });
});

const paced = (n: number, gapMs: number): string[] =>
  Array.from({ length: n }, (_, i) => JSON.stringify({ symbol: 'S', ts: T0 + i * gapMs, bids: [[100 - i * 0.01, i + 1]], asks: [[101, 1]] }));

describe('ReplayFeed pacing', () => {
  it('follows recorded ts differences divided by speed', async () => {
    // 5 lines 1 s apart at 20x: about 200 ms from first to last.
    const feed = new ReplayFeed({ path: file('paced.ndjson', paced(5, 1000)), speed: 20, maxLevels: 2 });
    const stamps: number[] = [];
    const r = recorder();
    const offer = r.sink.offer;
    r.sink.offer = (u) => { stamps.push(performance.now()); return offer(u); };
    feed.start(r.sink);
    await feed.done;
    expect(r.seen.map((s) => s.ts)).toEqual([0, 1, 2, 3, 4].map((i) => T0 + i * 1000));
    const span = stamps[4] - stamps[0];
    expect(span).toBeGreaterThanOrEqual(180);
    expect(span).toBeLessThan(2000);
    expect(stamps[2] - stamps[0]).toBeGreaterThanOrEqual(90); // spread out, not one wait then a burst
  });

  it('speed 0 ignores the recorded gaps', async () => {
    const feed = new ReplayFeed({ path: file('gaps.ndjson', paced(5, 60_000)), speed: 0, maxLevels: 2 });
    const r = recorder();
    const t = performance.now();
    feed.start(r.sink);
    await feed.done;
    expect(r.seen).toHaveLength(5);
    expect(performance.now() - t).toBeLessThan(2000); // recorded pace would take 4 minutes
  });
});

describe('ReplayFeed backpressure', () => {
  it('retries a refused update until accepted: nothing lost, order kept', async () => {
    const feed = new ReplayFeed({ path: file('bp.ndjson', paced(20, 1)), speed: 0, maxLevels: 2 });
    // Refuse the first three offers, then every third one.
    const r = recorder((call) => call <= 3 || call % 3 === 0);
    feed.start(r.sink);
    await feed.done;
    expect(r.seen.map((s) => s.bids[0][1])).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(feed.stats().accepted).toBe(20);
    expect(feed.retries).toBe(r.calls() - 20);
    expect(feed.retries).toBeGreaterThanOrEqual(3);
  });
});

describe('ReplayFeed loop and stop', () => {
  it('loops from the top until stopped, then makes no further offers', async () => {
    const feed = new ReplayFeed({ path: file('loop.ndjson', paced(3, 1)), speed: 0, maxLevels: 2, loop: true });
    const r = recorder();
    feed.start(r.sink);
    while (feed.stats().accepted < 9) await new Promise((res) => setTimeout(res, 1));
    await feed.stop();
    await feed.done;
    const calls = r.calls();
    expect(r.seen.slice(0, 6).map((s) => s.ts)).toEqual([T0, T0 + 1, T0 + 2, T0, T0 + 1, T0 + 2]);
    await new Promise((res) => setTimeout(res, 20));
    expect(r.calls()).toBe(calls);
  });

  it('stop cuts a long recorded-pace wait short', async () => {
    const feed = new ReplayFeed({ path: file('slow.ndjson', paced(2, 3_600_000)), speed: 1, maxLevels: 2 });
    const r = recorder();
    feed.start(r.sink);
    while (feed.stats().accepted < 1) await new Promise((res) => setTimeout(res, 1));
    const t = performance.now();
    await feed.stop();
    await feed.done;
    expect(performance.now() - t).toBeLessThan(1000);
    expect(r.seen).toHaveLength(1);
  });
});
