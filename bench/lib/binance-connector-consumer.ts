// The feeds scenario's system under test: tickplant's Binance connector, alone in a process, writing every book it hands over into an SPSC input queue.
// Run (built, by bench/scenarios/feeds.ts over IPC): node dist/bench/lib/binance-connector-consumer.js <wsUrl> <restUrl> <depth> <SYM,SYM,…>
//
// The process stands for the feed actor's thread, so its CPU (all threads, from /proc) is the
// figure: createBinanceConnector (ws client, JSON.parse, message checks, DepthSync, the whole
// book per symbol, the top-N copy) and a ConnectorSink that does what the feed actor's
// (src/actors/feed/feed.ts) does per book: reserve, writeInputRecord, the reset kind, commit
// and ring the doorbell of a real QueueProducer (src/ring/spsc.ts) of INPUT_QUEUE_BYTES'
// default size. It is not the feed actor itself: no worker, no control port, no resyncing
// records (none are expected while measuring; they are counted).
//
// The queue's consumer is a trivial drain on this same thread (setImmediate after the books of
// one socket read): peek, read the symbol and kind, release. Its CPU is counted in this
// process's, so the figure is a little lower than the feed actor's alone would be; in
// tickplant the shard's thread reads the queue. The doorbell is never waited on, so a commit
// costs what it costs the feed actor while its shard is busy: one atomic load.
//
// IPC `stats`: books handed over, the last update id handed over per symbol, resyncs after the
// start (any is a failed measurement), malformed messages, full-queue refusals, records drained;
// after the measurement, `record` then `recorded`: the last book handed over per symbol.

import { createBinanceConnector } from '../../src/feeds/binance/connector.js';
import type { ConnectorSink } from '../../src/feeds/connector.js';
import { writeInputRecord } from '../../src/feeds/encode-input.js';
import { KIND_SNAPSHOT, type BookUpdate } from '../../src/feeds/types.js';
import { configureLog, logger } from '../../src/log.js';
import { IN_KIND, IN_SYMBOL, KIND_SNAPSHOT_RESET, inputRecordBytes } from '../../src/ring/layout.js';
import { Doorbell, QueueConsumer, QueueProducer, createDoorbellBuffer, createQueueBuffer } from '../../src/ring/spsc.js';
import { nowMs } from '../../src/stats/latency.js';
import { readyIpc, serveIpc } from './ipc.js';

const [wsUrl, restUrl, depthArg, symbolsArg] = process.argv.slice(2);
if (!symbolsArg) throw new TypeError('usage: binance-connector-consumer.js <wsUrl> <restUrl> <depth> <SYM,SYM,…>');
const natives = symbolsArg.split(',');
const depth = Number(depthArg);
/** src/config.ts's INPUT_QUEUE_BYTES default. */
const QUEUE_BYTES = 1 << 22;

configureLog('warn', false);
const sab = createQueueBuffer(QUEUE_BYTES);
const producer = new QueueProducer(sab, new Doorbell(createDoorbellBuffer()));
const consumer = new QueueConsumer(sab);

const ids = new Map(natives.map((n, i) => [`BINANCE.${n}`, i]));
const lastSeq = new Float64Array(natives.length).fill(-1);
let books = 0;
let resets = 0;
let resyncsAfterStart = 0;
let starts = 0;
let outOfOrder = 0;
let queueFull = 0;
let malformed = 0;
let trades = 0;
let drained = 0;
let drainedSnapshots = 0;
let drainScheduled = false;
/** After the measurement only (IPC `record`): the last book handed over per symbol, to compare with the generator's. */
let recording = false;
const recorded = new Map<string, { seq: number; bids: [number, number][]; asks: [number, number][] }>();
const levels = (px: Float64Array, sz: Float64Array, n: number): [number, number][] => Array.from({ length: n }, (_, i) => [px[i], sz[i]]);

function drain(): void {
  drainScheduled = false;
  for (let at = consumer.peek(); at >= 0; at = consumer.peek()) {
    const w = at >> 2;
    if (consumer.u32[w + IN_SYMBOL] < natives.length) drained++;
    const kind = consumer.u32[w + IN_KIND];
    if (kind === KIND_SNAPSHOT || kind === KIND_SNAPSHOT_RESET) drainedSnapshots++;
    consumer.release();
  }
}

const sink: ConnectorSink = {
  book(update: BookUpdate, reset: boolean, sourceSeq: number): boolean {
    const id = ids.get(update.symbol);
    if (id === undefined) throw new Error(`book of unknown symbol ${update.symbol}`);
    const bytes = inputRecordBytes(update.bidCount, update.askCount);
    let at = producer.reserve(bytes);
    if (at < 0) {
      // The drain is on this thread: a full queue means the drain is behind by a whole queue, so catch up now.
      drain();
      at = producer.reserve(bytes);
      if (at < 0) {
        queueFull++;
        return false;
      }
    }
    writeInputRecord(update, id, nowMs(), producer.f64, producer.u32, at >> 3);
    if (reset && update.kind === KIND_SNAPSHOT) {
      producer.u32[(at >> 2) + IN_KIND] = KIND_SNAPSHOT_RESET;
      resets++;
    }
    producer.commit(bytes, id);
    if (sourceSeq <= lastSeq[id]) outOfOrder++;
    lastSeq[id] = sourceSeq;
    books++;
    if (recording) recorded.set(update.symbol.slice('BINANCE.'.length), { seq: sourceSeq, bids: levels(update.bidPx, update.bidSz, update.bidCount), asks: levels(update.askPx, update.askSz, update.askCount) });
    if (!drainScheduled) {
      drainScheduled = true;
      setImmediate(drain);
    }
    return true;
  },
  trade(): boolean {
    trades++;
    return true;
  },
  resyncing(_symbol: string, reason: string): void {
    if (reason === 'start') starts++;
    else resyncsAfterStart++;
  },
  malformed(): void {
    malformed++;
  },
};

const connector = createBinanceConnector({ symbols: natives, depth, wsUrl, restUrl, log: logger('binance') });
connector.start(sink);

serveIpc({
  stats: () => {
    const st = connector.stats();
    return {
      books, resets, resyncsAfterStart, starts, outOfOrder, queueFull, malformed, trades, drained, drainedSnapshots,
      live: Object.values(st.symbols).filter((s) => s.state === 'live').length,
      lastSeq: Object.fromEntries(natives.map((n, i) => [n, lastSeq[i]])),
      messages: st.connections.reduce((n, c) => n + c.messages, 0),
      bytes: st.connections.reduce((n, c) => n + c.bytes, 0),
      reconnects: st.connections.reduce((n, c) => n + c.reconnects, 0),
    };
  },
  record: () => (recording = true),
  recorded: () => Object.fromEntries(recorded),
});
readyIpc({ system: 'tickplant', symbols: natives.length, depth, queueBytes: QUEUE_BYTES });
