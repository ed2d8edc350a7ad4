// Baseline: the shard's per-update work behind the naive actor path, one postMessage per update each way.
// Run (built, for its workers): npm run build && node dist/bench/baselines/postmessage-path.js <seconds> <workers> [depth] [window]
//
// The main thread generates simulator books (the same SimulatorFeed tickplant runs), posts each
// update to the worker that owns its symbol; the worker validates it, applies it to the book,
// computes the metrics, writes the record and encodes the frame once (the same src/book/* and
// src/protocol/encode.ts code the shard runs), and posts the frame back; the main thread counts
// it "published". postMessage has no backpressure, so at most `window` updates (default 4,096)
// are in flight, or the queues would grow without bound. Prints one line:
// `result {"updates","seconds","cpuSeconds","machineBusySeconds"}` (process-wide CPU, all
// threads; and the whole machine's, to tell how much other processes competed).

import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Book } from '../../src/book/book.js';
import { computeMetrics } from '../../src/book/metrics.js';
import { checkCrossing, checkLevels } from '../../src/book/validate.js';
import { DEFAULT_SYMBOLS, SimulatorFeed } from '../../src/feeds/simulator.js';
import { KIND_SNAPSHOT } from '../../src/feeds/types.js';
import { TYPE_UPDATE, encodeRecord, maxRecordFrameBytes, symbolJsonBytes } from '../../src/protocol/encode.js';
import { R_EPOCH, R_EXCHANGE_TS, R_FEED_TS, R_METRICS, R_SEQ, rawRecordFields } from '../../src/ring/layout.js';
import { machineBusyCpuSeconds } from '../lib/report.js';

/** What crosses the thread boundary per update: what a BookUpdate carries. */
interface UpdateMessage { symbol: number; kind: number; feedTs: number; exchangeTs: number; bids: number; asks: number; levels: Float64Array }

if (isMainThread) {
  const [secs, workersArg, depthArg = '20', windowArg = '4096'] = process.argv.slice(2);
  if (!workersArg) throw new TypeError('usage: postmessage-path.ts <seconds> <workers> [depth] [window]');
  const workers = Number(workersArg);
  const depth = Number(depthArg);
  const window = Number(windowArg);
  const symbols = [...DEFAULT_SYMBOLS];
  const sim = new SimulatorFeed({ symbols, updatesPerSecond: 1, depth, seed: 1 });
  const pool = Array.from({ length: workers }, () => new Worker(new URL(import.meta.url), {
    workerData: { symbols, depth },
  }));
  await Promise.all(pool.map((w) => new Promise((r) => w.once('message', r)))); // ready
  let inFlight = 0;
  let done = 0;
  let s = 0;
  let running = true;
  let cpu0 = process.cpuUsage();
  let t0 = performance.now();
  const send = (): void => {
    while (running && inFlight < window) {
      const u = sim.generateOne(s);
      const levels = new Float64Array(2 * (u.bidCount + u.askCount));
      for (let k = 0; k < u.bidCount; k++) { levels[2 * k] = u.bidPx[k]; levels[2 * k + 1] = u.bidSz[k]; }
      for (let k = 0; k < u.askCount; k++) { levels[2 * (u.bidCount + k)] = u.askPx[k]; levels[2 * (u.bidCount + k) + 1] = u.askSz[k]; }
      const m: UpdateMessage = { symbol: s, kind: u.kind, feedTs: performance.timeOrigin + performance.now(), exchangeTs: u.exchangeTs, bids: u.bidCount, asks: u.askCount, levels };
      pool[s % workers].postMessage(m);
      inFlight++;
      s = (s + 1) % symbols.length;
    }
  };
  for (const w of pool) {
    w.on('message', (frame: Uint8Array) => {
      if (frame.length === 0) throw new Error('empty frame');
      inFlight--;
      done++;
      // Refill in batches, as a feed tick would: one send() per quarter window drained.
      if (inFlight <= (window * 3) >> 2) send();
    });
    w.on('error', (e) => { throw e; });
  }
  // Warm up (JIT, queues) for a second, then measure.
  send();
  await new Promise((r) => setTimeout(r, 1000));
  const warm = done;
  cpu0 = process.cpuUsage();
  const busy0 = machineBusyCpuSeconds();
  t0 = performance.now();
  await new Promise((r) => setTimeout(r, Number(secs) * 1000));
  const updates = done - warm;
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(cpu0);
  const machineBusySeconds = machineBusyCpuSeconds() - busy0;
  running = false;
  await Promise.all(pool.map((w) => w.terminate()));
  process.stdout.write(`result ${JSON.stringify({ updates, seconds, cpuSeconds: (c.user + c.system) / 1e6, machineBusySeconds })}\n`);
} else {
  const { symbols, depth } = workerData as { symbols: string[]; depth: number };
  const books = symbols.map(() => new Book(depth));
  const json = symbols.map((name) => symbolJsonBytes(name));
  const seqs = new Float64Array(symbols.length);
  const epoch = Date.now();
  const rec = new Float64Array(rawRecordFields(depth));
  const out = new Uint8Array(maxRecordFrameBytes(depth, Math.max(...json.map((j) => j.length))));
  let scratch = new Book(depth);
  parentPort!.on('message', (m: UpdateMessage) => {
    const book = books[m.symbol];
    if (checkLevels(m.levels, 0, m.bids, m.asks, m.kind) !== 0 || m.kind !== KIND_SNAPSHOT) throw new Error('bad update');
    scratch.copyFrom(book);
    scratch.applySnapshot(m.levels, 0, m.bids, m.asks);
    if (checkCrossing(scratch) !== 0) throw new Error('crossed update');
    books[m.symbol] = scratch;
    scratch = book;
    const b = books[m.symbol];
    rec[R_SEQ] = ++seqs[m.symbol];
    rec[R_EPOCH] = epoch;
    rec[R_FEED_TS] = m.feedTs;
    rec[R_EXCHANGE_TS] = m.exchangeTs;
    computeMetrics(b, rec, R_METRICS);
    b.writeToRecord(rec, 0);
    const end = encodeRecord(out, 0, TYPE_UPDATE, json[m.symbol], rec, 0, depth);
    parentPort!.postMessage(out.slice(0, end)); // a copy: `out` is reused for the next update
  });
  parentPort!.postMessage('ready');
}
