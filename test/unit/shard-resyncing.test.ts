// A shard fed through two inputs, driven record by record on real shared memory: resyncing
// records become status frames (seq 0) and hold deltas back, a reset book is a snapshot whose
// frame (and every re-encoding of its seq) says "reset":true, and a symbol arriving through the
// wrong input is refused.
import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { writeResyncingRecord } from '../../src/actors/feed/input-records.js';
import type { ShardInit } from '../../src/actors/shard/messages.js';
import { ShardActor } from '../../src/actors/shard/shard.js';
import { FrontSymbol } from '../../src/actors/front/symbols.js';
import { loadConfig } from '../../src/config.js';
import { writeInputRecord } from '../../src/feeds/encode-input.js';
import { KIND_DELTA, KIND_SNAPSHOT, createBookUpdate } from '../../src/feeds/types.js';
import { TYPE_SNAPSHOT, encodeRecord, maxRecordFrameBytes, symbolJsonBytes } from '../../src/protocol/encode.js';
import {
  FR_FEED_TS, FR_JSON_LENGTH, FR_JSON_OFFSET, FR_KIND, FR_SEQ, FRAME_STATUS, FRAME_UPDATE, IN_KIND,
  KIND_SNAPSHOT_RESET, R_FLAGS, RAW_RESET, SEQ_NONE, inputRecordBytes,
} from '../../src/ring/layout.js';
import { QueueConsumer, QueueProducer, createDoorbellBuffer, createQueueBuffer } from '../../src/ring/spsc.js';
import { SymbolStore, createStoreBuffer } from '../../src/ring/symbol-store.js';
import { createAnalyticsBuffer } from '../../src/ring/analytics-store.js';
import { createTradeBuffer } from '../../src/ring/trade-store.js';

const cfg = loadConfig({ TICKPLANT_CONFIG: '' }, { rawCapacity: 64, depth: 5, logLevel: 'error', persist: false });
const geometry = { depth: cfg.depth, rawCapacity: cfg.rawCapacity, historyCapacity: cfg.historyCapacity };
const decoder = new TextDecoder();

function rig() {
  const inputs = [createQueueBuffer(1 << 16), createQueueBuffer(1 << 16)];
  const frames = createQueueBuffer(1 << 20);
  const store = createStoreBuffer(geometry);
  const reg = { id: 0, name: 'KRAKEN.BTC-USD', shard: 0, store, trades: createTradeBuffer(64), analytics: createAnalyticsBuffer(2048), registeredAtMs: Date.now() };
  const c = new MessageChannel();
  const r = new MessageChannel();
  const init: ShardInit = {
    index: 0, config: cfg, doorbell: createDoorbellBuffer(), frames, control: c.port2, registrations: r.port2, symbols: [reg],
    inputs: [{ name: 'supervisor', queue: inputs[0] }, { name: 'feed-kraken', queue: inputs[1], symbols: [0] }],
  };
  const shard = new ShardActor(init);
  /** A successor on the same shared memory, as after a crash. */
  const successor = () => new ShardActor({ ...init, control: new MessageChannel().port2, registrations: new MessageChannel().port2 });
  const producers = inputs.map((q) => new QueueProducer(q));
  const u = createBookUpdate(5);
  const book = (input: number, kind: number, bid: number, ask: number) => {
    u.kind = kind === KIND_SNAPSHOT_RESET ? KIND_SNAPSHOT : kind;
    u.bidCount = 1;
    u.askCount = 1;
    u.bidPx[0] = bid;
    u.bidSz[0] = 1;
    u.askPx[0] = ask;
    u.askSz[0] = 2;
    const p = producers[input];
    const n = inputRecordBytes(1, 1);
    const at = p.reserve(n);
    writeInputRecord(u, 0, Date.now(), p.f64, p.u32, at >> 3);
    if (kind === KIND_SNAPSHOT_RESET) p.u32[(at >> 2) + IN_KIND] = KIND_SNAPSHOT_RESET;
    p.commit(n, 0);
  };
  /** Handles every queued record, as the run loop does. */
  const drain = () => {
    const inner = shard as unknown as { inputs: QueueConsumer[]; handle(q: QueueConsumer, at: number, input: number): boolean };
    inner.inputs.forEach((q, k) => {
      for (let at = q.peek(); at >= 0; at = q.peek()) {
        expect(inner.handle(q, at, k)).toBe(true);
        q.release();
      }
    });
  };
  const out = new QueueConsumer(frames);
  /** The frames queued since the last call: [seq, kind, parsed JSON, feedTs]. */
  const taken = () => {
    const list: { seq: number; kind: number; json: Record<string, unknown>; feedTs: number }[] = [];
    for (let at = out.peek(); at >= 0; at = out.peek()) {
      const text = decoder.decode(out.bytes.subarray(at + FR_JSON_OFFSET, at + FR_JSON_OFFSET + out.u32[(at >> 2) + FR_JSON_LENGTH]));
      list.push({ seq: out.f64[(at >> 3) + FR_SEQ], kind: out.u32[(at >> 2) + FR_KIND], json: JSON.parse(text) as Record<string, unknown>, feedTs: out.f64[(at >> 3) + FR_FEED_TS] });
      out.release();
    }
    return list;
  };
  return { shard, successor, reg, book, drain, taken, producers, store: new SymbolStore(store, geometry) };
}

describe('shard: resyncing and reset', () => {
  it('turns a resyncing record into a status frame with seq 0, and the next reset book into seq + 1 with "reset":true', () => {
    const t = rig();
    t.book(1, KIND_SNAPSHOT, 100, 101);
    t.drain();
    expect(t.taken().map((f) => [f.seq, f.kind, f.json.reset])).toEqual([[1, FRAME_UPDATE, undefined]]);

    const before = Date.now();
    expect(writeResyncingRecord(t.producers[1], 0, 'checksum mismatch!', before)).toBe(true);
    t.drain();
    const [status] = t.taken();
    expect(status.seq).toBe(SEQ_NONE);
    expect(status.kind).toBe(FRAME_STATUS);
    expect(status.feedTs).toBe(before);
    expect(status.json).toEqual({ type: 'status', symbol: 'KRAKEN.BTC-USD', status: 'resyncing', since: new Date(before).toISOString(), reason: 'checksum_mismatch_' });
    expect(t.shard.stats()).toMatchObject({ resyncs: 1, resyncingSymbols: 1, accepted: 1 });

    // A delta while resyncing waits for a snapshot, as after a lost book.
    t.book(1, KIND_DELTA, 100.5, 101);
    t.drain();
    expect(t.taken()).toEqual([]);
    expect(t.shard.stats().rejected.no_snapshot).toBe(1);

    t.book(1, KIND_SNAPSHOT_RESET, 99, 100);
    t.drain();
    const [reset] = t.taken();
    expect(reset.seq).toBe(2); // the sequence goes on: no gap for subscribers
    expect(reset.json).toMatchObject({ type: 'orderbook_update', seq: 2, reset: true, data: { best_bid: 99, best_ask: 100 } });
    expect(t.shard.stats()).toMatchObject({ resets: 1, resyncingSymbols: 0, accepted: 2 });

    // The flag lives in the raw record: a snapshot or resume of seq 2 says it too.
    const rec = new Float64Array(t.store.rawFields);
    const epoch = reset.json.epoch as number;
    expect(t.store.readRaw(2, epoch, rec, 0)).toBe(true);
    expect(rec[R_FLAGS]).toBe(RAW_RESET);
    const sym = symbolJsonBytes('KRAKEN.BTC-USD');
    const buf = new Uint8Array(maxRecordFrameBytes(cfg.depth, sym.length));
    expect(JSON.parse(decoder.decode(buf.subarray(0, encodeRecord(buf, 0, TYPE_SNAPSHOT, sym, rec, 0, cfg.depth))))).toMatchObject({ seq: 2, reset: true });

    t.book(1, KIND_SNAPSHOT, 99.5, 100);
    t.drain();
    expect(t.taken().map((f) => [f.seq, f.json.reset])).toEqual([[3, undefined]]);
  });

  it('carries the reset to the book that ends the resync when the marked one is refused', () => {
    const t = rig();
    t.book(1, KIND_SNAPSHOT, 100, 101);
    t.drain();
    t.taken();
    t.book(1, KIND_SNAPSHOT_RESET, 101, 100); // crossed: refused
    t.drain();
    expect(t.taken()).toEqual([]);
    expect(t.shard.stats().rejected.crossed).toBe(1);
    t.book(1, KIND_SNAPSHOT, 99, 100);
    t.book(1, KIND_SNAPSHOT, 99.5, 100);
    t.drain();
    expect(t.taken().map((f) => [f.seq, f.json.reset])).toEqual([[2, true], [3, undefined]]);
  });

  it('clears the flag when the ring slot of a reset book is reused', () => {
    const t = rig();
    t.book(1, KIND_SNAPSHOT_RESET, 100, 101);
    for (let i = 0; i < cfg.rawCapacity; i++) {
      t.book(1, KIND_SNAPSHOT, 100, 101 + (i % 2));
      t.drain(); // one record at a time keeps the input queue small
    }
    const frames = t.taken();
    expect(frames[0].json.reset).toBe(true);
    const reused = frames[frames.length - 1];
    expect(reused.seq).toBe(cfg.rawCapacity + 1); // the slot of seq 1
    expect(reused.json.reset).toBeUndefined();
  });

  it('refuses a symbol that arrives through an input that does not feed it', () => {
    const t = rig();
    t.book(0, KIND_SNAPSHOT, 100, 101); // through the supervisor's queue: not this symbol's
    t.drain();
    expect(t.taken()).toEqual([]);
    expect(t.shard.stats().rejected.wrong_input).toBe(1);
    t.book(1, KIND_SNAPSHOT, 100, 101);
    t.drain();
    expect(t.taken().map((f) => f.seq)).toEqual([1]);
    expect(t.shard.stats().inputQueues.map((q) => q.name)).toEqual(['supervisor', 'feed-kraken']);
  });

  it('owes a resyncing status the full frame queue refused, and queues it once there is room, while the symbol still resyncs', () => {
    const t = rig();
    // Fill the frame queue with books nobody takes.
    let bid = 100;
    for (let round = 0; round < 40 && t.shard.stats().frameQueueFull === 0; round++) {
      for (let i = 0; i < 200; i++) t.book(1, KIND_SNAPSHOT, (bid += 0.5), bid + 1);
      t.drain();
    }
    expect(t.shard.stats().frameQueueFull).toBeGreaterThan(0);
    // Statuses are small: the first few may still fit in what the books left.
    let n = 0;
    while (t.shard.stats().statusQueueFull === 0 && n < 50) {
      expect(writeResyncingRecord(t.producers[1], 0, `gap${++n}`, Date.now())).toBe(true);
      t.drain();
    }
    expect(t.shard.stats()).toMatchObject({ statusQueueFull: 1, statusesOwed: 1, resyncingSymbols: 1 });
    const queued = t.taken().filter((f) => f.kind === FRAME_STATUS).map((f) => f.json.reason);
    expect(queued).not.toContain(`gap${n}`);
    (t.shard as unknown as { retryStatuses(): void }).retryStatuses(); // what the run loop does after each turn
    expect(t.taken().map((f) => [f.seq, f.kind, f.json.status, f.json.reason])).toEqual([[SEQ_NONE, FRAME_STATUS, 'resyncing', `gap${n}`]]);
    expect(t.shard.stats().statusesOwed).toBe(0);
  });

  it('keeps the resync in the store header: a successor still owes the reset, and a restarted front tells new subscribers', () => {
    const t = rig();
    t.book(1, KIND_SNAPSHOT, 100, 101);
    t.drain();
    const since = Date.now();
    writeResyncingRecord(t.producers[1], 0, 'checksum', since);
    t.drain();
    t.taken();
    const front = new FrontSymbol(t.reg, cfg);
    expect(front.status).toBe('resyncing');
    expect(front.statusSince).toBe(since);
    expect(JSON.parse(decoder.decode(front.statusFrame))).toEqual({ type: 'status', symbol: 'KRAKEN.BTC-USD', status: 'resyncing', since: new Date(since).toISOString(), reason: 'checksum' });

    // The shard dies; its successor takes the next book (not marked reset by the feed) as the end of the resync.
    const next = t.successor();
    const inner = next as unknown as { inputs: QueueConsumer[]; handle(q: QueueConsumer, at: number, input: number): boolean };
    t.book(1, KIND_SNAPSHOT, 99, 100);
    const q = inner.inputs[1];
    expect(inner.handle(q, q.peek(), 1)).toBe(true);
    q.release();
    expect(t.taken().map((f) => [f.seq, f.json.reset])).toEqual([[2, true]]);
    expect(new FrontSymbol(t.reg, cfg).status).toBe('live'); // the mark is cleared once a book ends the resync
  });
});
