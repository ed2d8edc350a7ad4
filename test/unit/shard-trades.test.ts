// A shard's trades channel, driven record by record on real shared memory: each trade takes the
// next seq of its own sequence (beside the book's), lands in the trade ring, is encoded once as a
// `trade` frame and queued for the writer as its ring record; a successor re-applying the record
// its predecessor committed skips it, and a damaged record is refused.
import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import type { ShardInit } from '../../src/actors/shard/messages.js';
import { ShardActor } from '../../src/actors/shard/shard.js';
import { loadConfig } from '../../src/config.js';
import { writeInputRecord, writeTradeRecord } from '../../src/feeds/encode-input.js';
import { KIND_SNAPSHOT, createBookUpdate, createTradeUpdate } from '../../src/feeds/types.js';
import {
  FR_EPOCH, FR_JSON_LENGTH, FR_JSON_OFFSET, FR_KIND, FR_SEQ, FRAME_TRADE, FRAME_UPDATE, IN_TRADE_SIDE, ROW_TRADE,
  TRADE_RECORD_BYTES, TRADE_RECORD_FIELDS, T_PRICE, T_SEQ, inputRecordBytes,
} from '../../src/ring/layout.js';
import { QueueConsumer, QueueProducer, createDoorbellBuffer, createQueueBuffer } from '../../src/ring/spsc.js';
import { createStoreBuffer } from '../../src/ring/symbol-store.js';
import { TradeStore, createTradeBuffer, tradeIdOf } from '../../src/ring/trade-store.js';
import { createAnalyticsBuffer } from '../../src/ring/analytics-store.js';

const cfg = loadConfig({ TICKPLANT_CONFIG: '' }, { rawCapacity: 64, tradeCapacity: 64, depth: 5, logLevel: 'error' });
const geometry = { depth: cfg.depth, rawCapacity: cfg.rawCapacity, historyCapacity: cfg.historyCapacity };
const decoder = new TextDecoder();

function rig() {
  const input = createQueueBuffer(1 << 16);
  const frames = createQueueBuffer(1 << 20);
  const rows = createQueueBuffer(1 << 20);
  const reg = { id: 3, name: 'BINANCE.BTCUSDT', shard: 0, store: createStoreBuffer(geometry), trades: createTradeBuffer(64), analytics: createAnalyticsBuffer(2048), registeredAtMs: Date.now() };
  const feed = new QueueProducer(input);
  const shard = () => {
    const c = new MessageChannel();
    const r = new MessageChannel();
    const init: ShardInit = {
      index: 0, config: cfg, inputs: [{ name: 'test', queue: input }], doorbell: createDoorbellBuffer(), frames, rows,
      control: c.port2, registrations: r.port2, symbols: [reg],
    };
    return new ShardActor(init);
  };
  const t = createTradeUpdate();
  const trade = (id: string, price: number, size: number, side: 'buy' | 'sell') => {
    Object.assign(t, { symbol: reg.name, tradeId: id, price, size, side, exchangeTs: 1_700_000_000_123 });
    expect(writeTradeRecord(feed, t, reg.id, 1_700_000_000_200)).toBe(true);
  };
  const u = createBookUpdate(5);
  const book = (bid: number) => {
    Object.assign(u, { symbol: reg.name, kind: KIND_SNAPSHOT, exchangeTs: 0, bidCount: 1, askCount: 1 });
    u.bidPx[0] = bid;
    u.bidSz[0] = 1;
    u.askPx[0] = bid + 1;
    u.askSz[0] = 1;
    const n = inputRecordBytes(1, 1);
    const at = feed.reserve(n);
    writeInputRecord(u, reg.id, Date.now(), feed.f64, feed.u32, at >> 3);
    feed.commit(n, reg.id);
  };
  /** Handles the next record; `release` false leaves it queued, as a shard killed before releasing it. */
  const step = (sh: ShardActor, release = true) => {
    const inner = sh as unknown as { inputs: QueueConsumer[]; handle(q: QueueConsumer, at: number, input: number): boolean };
    const q = inner.inputs[0];
    expect(inner.handle(q, q.peek(), 0)).toBe(true);
    if (release) q.release();
  };
  const out = new QueueConsumer(frames);
  const taken = () => {
    const list: { seq: number; epoch: number; kind: number; json: Record<string, unknown> }[] = [];
    for (let at = out.peek(); at >= 0; at = out.peek()) {
      const text = decoder.decode(out.bytes.subarray(at + FR_JSON_OFFSET, at + FR_JSON_OFFSET + out.u32[(at >> 2) + FR_JSON_LENGTH]));
      list.push({ seq: out.f64[(at >> 3) + FR_SEQ], epoch: out.f64[(at >> 3) + FR_EPOCH], kind: out.u32[(at >> 2) + FR_KIND], json: JSON.parse(text) as Record<string, unknown> });
      out.release();
    }
    return list;
  };
  const rowOut = new QueueConsumer(rows);
  const rowsTaken = () => {
    const list: { aux: number; length: number; seq: number; id: string; price: number }[] = [];
    for (let at = rowOut.peek(); at >= 0; at = rowOut.peek()) {
      const b = at >> 3;
      list.push(rowOut.aux >= ROW_TRADE
        ? { aux: rowOut.aux, length: rowOut.length, seq: rowOut.f64[b + T_SEQ], id: tradeIdOf(rowOut.f64, b), price: rowOut.f64[b + T_PRICE] }
        : { aux: rowOut.aux, length: rowOut.length, seq: rowOut.f64[b + 1], id: '', price: 0 });
      rowOut.release();
    }
    return list;
  };
  return { reg, shard, trade, book, step, taken, rowsTaken, feed, store: new TradeStore(reg.trades) };
}

describe('shard: the trades channel', () => {
  it('gives trades their own sequence beside the book\'s, encodes each once, and queues its ring record for the writer', () => {
    const r = rig();
    const sh = r.shard();
    r.trade('1001', 100.5, 0.25, 'buy');
    r.book(100);
    r.trade('1002', 100, 1.5, 'sell');
    for (let i = 0; i < 3; i++) r.step(sh);
    const frames = r.taken();
    expect(frames.map((f) => [f.kind, f.seq])).toEqual([[FRAME_TRADE, 1], [FRAME_UPDATE, 1], [FRAME_TRADE, 2]]);
    const epoch = frames[0].epoch;
    expect(epoch).toBeGreaterThan(0);
    expect(frames[0].json).toEqual({
      type: 'trade', symbol: 'BINANCE.BTCUSDT', epoch, seq: 1, trade_id: '1001', price: 100.5, size: 0.25, side: 'buy',
      timestamp: new Date(1_700_000_000_123).toISOString(),
    });
    expect(frames[2].json).toMatchObject({ seq: 2, trade_id: '1002', side: 'sell', price: 100, size: 1.5 });

    const rows = r.rowsTaken();
    expect(rows.map((x) => [x.aux, x.length, x.seq, x.id])).toEqual([
      [r.reg.id + ROW_TRADE, TRADE_RECORD_BYTES, 1, '1001'], [r.reg.id, expect.any(Number), 1, ''], [r.reg.id + ROW_TRADE, TRADE_RECORD_BYTES, 2, '1002'],
    ]);

    const rec = new Float64Array(TRADE_RECORD_FIELDS);
    expect(r.store.readTrade(2, epoch, rec, 0)).toBe(true);
    expect([tradeIdOf(rec, 0), rec[T_PRICE]]).toEqual(['1002', 100]);
    expect(r.store.readTrade(3, epoch, rec, 0)).toBe(false); // not written yet
    expect(sh.stats().trades).toMatchObject({ accepted: 2, rejected: 0, newEpochs: 1 });
  });

  it('a successor skips the trade its predecessor committed but did not release, and continues the sequence', () => {
    const r = rig();
    const first = r.shard();
    r.trade('a-1', 10, 1, 'buy');
    r.trade('a-2', 10, 1, 'buy');
    r.step(first);
    r.step(first, false); // committed, then killed before releasing it
    const epoch = r.taken()[0].epoch;
    r.rowsTaken();
    const successor = r.shard();
    r.trade('a-3', 11, 1, 'sell');
    r.step(successor); // a-2 again: skipped
    r.step(successor);
    expect(r.taken().map((f) => [f.epoch, f.seq, f.json.trade_id])).toEqual([[epoch, 3, 'a-3']]);
    expect(r.rowsTaken().map((x) => x.id)).toEqual(['a-3']);
    expect(successor.stats().skippedReplays).toBe(1);
  });

  it('refuses a damaged trade record without taking a seq', () => {
    const r = rig();
    const sh = r.shard();
    r.trade('x', 10, 1, 'buy');
    // Damage the side word of the queued record (the feed checks trades; a broken record still must not pass).
    const c = new QueueConsumer((r.feed as unknown as { sab: SharedArrayBuffer }).sab);
    const at = c.peek();
    c.u32[(at >> 2) + IN_TRADE_SIDE] = 7;
    r.step(sh);
    r.trade('y', 10, 1, 'buy');
    r.step(sh);
    expect(r.taken().map((f) => [f.seq, f.json.trade_id])).toEqual([[1, 'y']]);
    expect(sh.stats().trades.rejected).toBe(1);
  });
});
