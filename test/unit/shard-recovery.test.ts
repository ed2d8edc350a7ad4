// A shard's successor after a crash, driven record by record on real shared memory (no thread):
// when the book cannot be rebuilt, deltas wait for a snapshot instead of publishing a wrong book.
import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import type { ShardInit } from '../../src/actors/shard/messages.js';
import { ShardActor } from '../../src/actors/shard/shard.js';
import { loadConfig } from '../../src/config.js';
import { writeInputRecord } from '../../src/feeds/encode-input.js';
import { KIND_DELTA, KIND_SNAPSHOT, createBookUpdate } from '../../src/feeds/types.js';
import { FR_JSON_LENGTH, FR_JSON_OFFSET, H_VERSION, inputRecordBytes } from '../../src/ring/layout.js';
import { QueueConsumer, QueueProducer, createDoorbellBuffer, createQueueBuffer } from '../../src/ring/spsc.js';
import { SymbolStore, createStoreBuffer } from '../../src/ring/symbol-store.js';
import { createAnalyticsBuffer } from '../../src/ring/analytics-store.js';
import { createTradeBuffer } from '../../src/ring/trade-store.js';

const cfg = loadConfig({ TICKPLANT_CONFIG: '' }, { rawCapacity: 64, depth: 5, logLevel: 'error' });
const geometry = { depth: cfg.depth, rawCapacity: cfg.rawCapacity, historyCapacity: cfg.historyCapacity };

describe('shard recovery (regression: a lost book must not take deltas as if it were empty)', () => {
  it('rejects deltas as no_snapshot until a snapshot rebuilds the book, after a torn header', () => {
    const input = createQueueBuffer(1 << 16);
    const frames = createQueueBuffer(1 << 20);
    const storeSab = createStoreBuffer(geometry);
    const reg = { id: 0, name: 'X', shard: 0, store: storeSab, trades: createTradeBuffer(64), analytics: createAnalyticsBuffer(2048), registeredAtMs: Date.now() };
    const feed = new QueueProducer(input);
    const u = createBookUpdate(5);
    const offer = (kind: number, bids: number[][], asks: number[][]) => {
      u.kind = kind;
      u.bidCount = bids.length;
      u.askCount = asks.length;
      bids.forEach(([p, s], i) => ((u.bidPx[i] = p), (u.bidSz[i] = s)));
      asks.forEach(([p, s], i) => ((u.askPx[i] = p), (u.askSz[i] = s)));
      const n = inputRecordBytes(bids.length, asks.length);
      const at = feed.reserve(n);
      writeInputRecord(u, 0, Date.now(), feed.f64, feed.u32, at >> 3);
      feed.commit(n, 0);
    };
    const shard = () => {
      const c = new MessageChannel();
      const r = new MessageChannel();
      const init: ShardInit = {
        index: 0, config: cfg, inputs: [{ name: 'test', queue: input }], doorbell: createDoorbellBuffer(), frames, control: c.port2, registrations: r.port2, symbols: [reg],
      };
      return new ShardActor(init);
    };
    // Drives the actor's record handler directly, as its run loop does.
    const step = (sh: ShardActor) => {
      const inner = sh as unknown as { inputs: QueueConsumer[]; handle(q: QueueConsumer, at: number, input: number): boolean };
      const q = inner.inputs[0];
      const at = q.peek();
      if (inner.handle(q, at, 0)) q.release();
    };

    offer(KIND_SNAPSHOT, [[100, 1], [99, 2]], [[101, 1], [102, 2]]);
    step(shard());
    Atomics.store(new SymbolStore(storeSab, geometry).i32, H_VERSION, 1); // died inside the header write
    const successor = shard();
    offer(KIND_DELTA, [[100, 5]], []);
    step(successor);
    expect(successor.stats().rejected.no_snapshot).toBe(1);
    offer(KIND_SNAPSHOT, [[100, 3]], [[101, 4]]);
    offer(KIND_DELTA, [[100, 5]], []);
    step(successor);
    step(successor);

    const fc = new QueueConsumer(frames);
    const sent: { seq: number; epoch: number; data: { bid_levels: number[][]; ask_levels: number[][] } }[] = [];
    for (let at = fc.peek(); at >= 0; at = fc.peek()) {
      const len = fc.u32[(at >> 2) + FR_JSON_LENGTH];
      sent.push(JSON.parse(new TextDecoder().decode(fc.bytes.subarray(at + FR_JSON_OFFSET, at + FR_JSON_OFFSET + len))));
      fc.release();
    }
    expect(sent).toHaveLength(3); // the first snapshot; then, in a new epoch, the snapshot and the delta
    expect(sent[1].epoch).not.toBe(sent[0].epoch);
    expect(sent[2].data.bid_levels).toEqual([[100, 5]]);
    expect(sent[2].data.ask_levels).toEqual([[101, 4]]); // the rebuilt book, not an empty side
  });
});
