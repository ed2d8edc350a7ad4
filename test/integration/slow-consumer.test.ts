// A client that stops reading is conflated (detached, then resynced), never silently skipped,
// and the other clients keep receiving every update in order.
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Runtime, sleep, startRuntime } from '../helpers/runtime.js';
import { TestClient, sequenceProblems } from '../helpers/ws-client.js';

const SYMBOLS = ['US.AAPL', 'US.MSFT', 'BTC-USD', 'ETH-USD'];
let rt: Runtime;
beforeAll(async () => {
  rt = await startRuntime({
    shards: 2, symbols: SYMBOLS, simUpdatesPerSecond: 1500, wsConflateBytes: 256 * 1024, wsMaxBackpressure: 8 << 20,
  });
});
afterAll(() => rt?.stop());

describe('slow consumer', () => {
  it('conflates the client that stopped reading with a resync; the others miss nothing', async () => {
    const fast = await TestClient.connect(rt.ws);
    const slow = await TestClient.connect(rt.ws);
    for (const s of SYMBOLS) {
      fast.send({ action: 'subscribe', symbol: s, resolution: 'none' });
      slow.send({ action: 'subscribe', symbol: s, resolution: 'none' });
    }
    await slow.waitFor((m) => m.type === 'orderbook_update');
    const socket = (slow.ws as unknown as { _socket: Socket })._socket;
    socket.pause(); // stop reading: the kernel buffers fill, then the server's backlog grows

    let conflations = 0;
    for (let i = 0; i < 100 && conflations === 0; i++) {
      await sleep(100);
      conflations = (await rt.get<{ front: { conflations: number } }>('/stats')).body.front.conflations;
    }
    expect(conflations).toBeGreaterThanOrEqual(1);
    const fastCountWhileStalled = fast.messages.length;
    await sleep(500);
    expect(fast.messages.length).toBeGreaterThan(fastCountWhileStalled + 500); // the fast one kept flowing

    socket.resume();
    const resync = await slow.waitFor((m) => m.type === 'resync', 20_000);
    expect(resync.reason).toBe('slow_consumer');
    expect(resync.data).toHaveProperty('ask_levels');
    const afterResync = slow.messages.length;
    await slow.waitFor((m) => m.type === 'orderbook_update', 10_000, afterResync);
    await sleep(300);
    fast.close();
    slow.close();

    for (const s of SYMBOLS) {
      // The fast client: every update, in order, no resync.
      const f = fast.stream(s);
      expect(sequenceProblems(f), s).toEqual([]);
      expect(f.some((m) => m.type === 'resync')).toBe(false);
      // The slow client: gap-free up to where it fell behind, then a resync, then gap-free again.
      expect(sequenceProblems(slow.stream(s)), s).toEqual([]);
    }
    const stats = await rt.get<{ front: { resyncs: Record<string, number>; backpressureLimitHits: number } }>('/stats');
    expect(stats.body.front.resyncs.slow_consumer).toBeGreaterThanOrEqual(1);
    expect(stats.body.front.backpressureLimitHits).toBe(0); // detached long before uWS would skip it
  });
});

describe('slow consumer near the uWS ceiling (regression: silent skips when the sweep timer lags)', () => {
  it('never lets uWS skip a stalled client, even when the ceiling is reached between two timer sweeps', async () => {
    // 4 symbols × 3000/s of ~1 KB frames is ~300 KB per 25 ms sweep interval: far above a
    // 64 KiB ceiling. Only the byte-budget sweep in the publish path keeps the stalled client
    // detached before uWS would start skipping it.
    const tight = await startRuntime({
      shards: 2, symbols: SYMBOLS, simUpdatesPerSecond: 3000, wsConflateBytes: 16 * 1024, wsMaxBackpressure: 64 * 1024,
    });
    try {
      const slow = await TestClient.connect(tight.ws);
      for (const s of SYMBOLS) slow.send({ action: 'subscribe', symbol: s, resolution: 'none' });
      await slow.waitFor((m) => m.type === 'orderbook_update');
      const socket = (slow.ws as unknown as { _socket: Socket })._socket;
      const conflations = async () => (await tight.get<{ front: { conflations: number } }>('/stats')).body.front.conflations;
      for (let round = 1; round <= 3; round++) {
        socket.pause(); // stalled until the kernel buffers fill and the server detaches it
        for (let i = 0; i < 100 && (await conflations()) < round; i++) await sleep(50);
        await sleep(300); // stay stalled while frames keep being published
        socket.resume();
        await sleep(300);
      }
      const from = slow.messages.length;
      await slow.waitFor((m) => m.type === 'orderbook_update', 10_000, from);
      slow.close();
      for (const s of SYMBOLS) expect(sequenceProblems(slow.stream(s)), s).toEqual([]);
      const stats = await tight.get<{ front: { conflations: number; backpressureLimitHits: number } }>('/stats');
      expect(stats.body.front.conflations).toBeGreaterThanOrEqual(1);
      expect(stats.body.front.backpressureLimitHits).toBe(0);
    } finally {
      await tight.stop();
    }
  });
});
