// A local Binance spot look-alike that sends diff-depth events as fast as its client reads them: the load of the feeds scenario.
// Run (by bench/scenarios/feeds.ts, over IPC): node --import tsx bench/lib/binance-generator.ts [--symbols 8] [--levels 300] [--diffs 25000] [--seed 1]
//
// Serves what createBinanceConnector asks for: WebSocket /stream?streams=<sym>@depth@100ms/<sym>@trade
// (combined-stream envelopes) and GET /api/v3/depth. Unlike the test server
// (test/helpers/exchanges/binance-server.ts), which runs a matching engine on a timer and keeps
// every book state to check a connector against, this one must cost far less per message than
// the consumer it measures, so everything that can be is computed before the first client:
//
// - per symbol, a sequence of `diffs` events over a book of `levels` price levels per side
//   (about 90% filled), each changing 0-4 levels per side near the top (mostly the best 10),
//   15% of them removals ("0.00000000"), Binance's 8-decimal strings; each event folds 1+
//   update ids (U..u) as the 100 ms stream does. The `"b":…,"a":…` text of each is kept.
// - the sequence repeats with ids continuing (loop L adds L × its id span to U and u), so a
//   stream never ends and ids stay consecutive. Quantities are absolute, so the book after
//   any number of whole loops is the book after the first one (`afterFirstLoop`), and a
//   snapshot at any point is that (or the initial book) plus a prefix of the sequence.
//
// Sending: events go round-robin over the symbols, each symbol's next one. Frames are written
// by hand (text, unmasked) into 64 KiB batches and written to the upgraded socket directly;
// `ws` made the handshake and still handles the client's control frames. Through `ws.send`
// every message would be its own write(2), and the generator would measure itself. A batch is
// written only while `ws.bufferedAmount` is under 64 KiB, and after a refused write the pump
// waits for 'drain': the rate is the consumer's, with no more queued than the kernel's socket
// buffers. E is the batch's Date.now().
//
// The REST snapshot is the book at the last event sent of that symbol, so it is at or ahead of
// whatever the client has read and the documented sync (drop u <= lastUpdateId, apply the
// rest) always bridges. One stream connection at a time is the design: the position in the
// sequence is the exchange's, shared by every connection.
//
// IPC (bench/lib/ipc.ts): `stats` → messages, frame and payload bytes, connections;
// `covered {symbol, after, upTo}` → how many events of `symbol` have after < u <= upTo, to check
// that a consumer applied every event between two of its books; `pause` stops sending for
// good; `top {symbol, u, n}` → the true best n levels a side after the event ending at u.

import { mulberry32 } from '../../src/feeds/prng.js';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { parseArgs } from 'node:util';
import { WebSocketServer } from 'ws';
import { readyIpc, serveIpc } from './ipc.js';

const { values: argv } = parseArgs({
  options: {
    symbols: { type: 'string', default: '8' },
    levels: { type: 'string', default: '300' },
    diffs: { type: 'string', default: '25000' },
    seed: { type: 'string', default: '1' },
  },
});
const SYMBOL_COUNT = Number(argv.symbols);
const LEVELS = Number(argv.levels);
const DIFFS = Number(argv.diffs);
const BATCH_BYTES = 64 * 1024;
const LOW_WATER = 64 * 1024;
const BATCHES_PER_TURN = 16;
const FILLED_SHARE = 0.9;
const REMOVE_SHARE = 0.15;
/** Mean distance from the best level of a changed level (exponential, so most changes are at the top). */
const MEAN_OFFSET = 4;

/** Price in ticks of `tick` decimals; quantities in lots of `lot` decimals; both shown with 8, as Binance does. */
const SPECS = [
  { native: 'BTCUSDT', mid: 6_500_000, tick: 2, lot: 5, maxLots: 200_000 },
  { native: 'ETHUSDT', mid: 345_000, tick: 2, lot: 4, maxLots: 500_000 },
  { native: 'BNBUSDT', mid: 58_000, tick: 2, lot: 3, maxLots: 900_000 },
  { native: 'SOLUSDT', mid: 14_500, tick: 2, lot: 3, maxLots: 2_000_000 },
  { native: 'XRPUSDT', mid: 5_200, tick: 4, lot: 0, maxLots: 90_000 },
  { native: 'DOGEUSDT', mid: 12_000, tick: 5, lot: 0, maxLots: 900_000 },
  { native: 'ADAUSDT', mid: 4_500, tick: 4, lot: 1, maxLots: 900_000 },
  { native: 'TRXUSDT', mid: 12_000, tick: 5, lot: 1, maxLots: 900_000 },
  { native: 'LTCUSDT', mid: 8_200, tick: 2, lot: 3, maxLots: 500_000 },
  { native: 'LINKUSDT', mid: 1_450, tick: 2, lot: 2, maxLots: 500_000 },
  { native: 'DOTUSDT', mid: 6_100, tick: 3, lot: 2, maxLots: 500_000 },
  { native: 'AVAXUSDT', mid: 2_800, tick: 2, lot: 2, maxLots: 500_000 },
];
if (!(SYMBOL_COUNT >= 1 && SYMBOL_COUNT <= SPECS.length)) throw new RangeError(`--symbols must be 1..${SPECS.length}`);

/** The same sequence for every system measured. */
const random = mulberry32(Number(argv.seed));
const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));

/** `units` with `decimals` decimals, written with 8 (1234567, 2 → "12345.67000000"). */
function decimal8(units: number, decimals: number): string {
  const s = String(units).padStart(decimals + 1, '0');
  const whole = s.slice(0, s.length - decimals);
  return `${whole}.${s.slice(s.length - decimals)}${'0'.repeat(8 - decimals)}`;
}
const ZERO = '0.00000000';

/** One side of a book as level index (0 = best) → quantity string, '' where empty. */
type Side = string[];

interface Sym {
  native: string;
  bidPrice: string[];
  askPrice: string[];
  initialBids: Side;
  initialAsks: Side;
  afterFirstLoopBids: Side;
  afterFirstLoopAsks: Side;
  /** Per event: its `"b":…,"a":…}}` text, and the changes for snapshots (side 0 bid / 1 ask, level, quantity). */
  tails: Buffer[];
  changes: { side: Uint8Array; level: Uint16Array; qty: string[] }[];
  /** Per event, U and u relative to the loop's start; the loop's span is uOff[last]. */
  UOff: Float64Array;
  uOff: Float64Array;
  span: number;
  /** lastUpdateId before the first event. */
  base: number;
  /** Events sent so far (all loops). */
  sent: number;
  /** Envelope text before E, between E and U. */
  pre: Buffer;
  mid: Buffer;
}

function buildSymbol(spec: (typeof SPECS)[number]): Sym {
  const bidPrice = Array.from({ length: LEVELS }, (_, k) => decimal8(spec.mid - 1 - k, spec.tick));
  const askPrice = Array.from({ length: LEVELS }, (_, k) => decimal8(spec.mid + k, spec.tick));
  const qty = () => decimal8(int(1, spec.maxLots), spec.lot);
  const initialBids: Side = Array.from({ length: LEVELS }, () => (random() < FILLED_SHARE ? qty() : ''));
  const initialAsks: Side = Array.from({ length: LEVELS }, () => (random() < FILLED_SHARE ? qty() : ''));
  // The best levels start filled, as on a liquid market.
  for (let k = 0; k < 5; k++) {
    initialBids[k] ||= qty();
    initialAsks[k] ||= qty();
  }
  const bids = [...initialBids];
  const asks = [...initialAsks];
  const tails: Buffer[] = [];
  const changes: Sym['changes'] = [];
  const UOff = new Float64Array(DIFFS);
  const uOff = new Float64Array(DIFFS);
  let id = 0;
  for (let j = 0; j < DIFFS; j++) {
    let nb = int(0, 4);
    const na = int(0, 4);
    if (nb + na === 0) nb = 1;
    const side = new Uint8Array(nb + na);
    const level = new Uint16Array(nb + na);
    const q: string[] = [];
    const parts: string[][] = [[], []];
    for (let i = 0; i < nb + na; i++) {
      const s = i < nb ? 0 : 1;
      const book = s === 0 ? bids : asks;
      let k = Math.min(LEVELS - 1, Math.floor(-Math.log(1 - random()) * MEAN_OFFSET));
      // One entry per price and side in an event, as Binance sends.
      while (level.subarray(s === 0 ? 0 : nb, i).includes(k)) k = (k + 1) % LEVELS;
      const v = book[k] !== '' && random() < REMOVE_SHARE ? ZERO : qty();
      book[k] = v === ZERO ? '' : v;
      side[i] = s;
      level[i] = k;
      q.push(v);
      parts[s].push(`["${(s === 0 ? bidPrice : askPrice)[k]}","${v}"]`);
    }
    changes.push({ side, level, qty: q });
    tails.push(Buffer.from(`"b":[${parts[0].join(',')}],"a":[${parts[1].join(',')}]}}`, 'latin1'));
    UOff[j] = id + 1;
    id += 1 + int(0, 2 * (nb + na)); // the engine's updates folded into this event
    uOff[j] = id;
  }
  const lower = spec.native.toLowerCase();
  return {
    native: spec.native, bidPrice, askPrice, initialBids, initialAsks,
    afterFirstLoopBids: bids, afterFirstLoopAsks: asks, tails, changes, UOff, uOff, span: id,
    base: 1_000_000_000 + int(0, 1_000_000_000), sent: 0,
    pre: Buffer.from(`{"stream":"${lower}@depth@100ms","data":{"e":"depthUpdate","E":`, 'latin1'),
    mid: Buffer.from(`,"s":"${spec.native}","U":`, 'latin1'),
  };
}

const t0 = performance.now();
const syms = SPECS.slice(0, SYMBOL_COUNT).map(buildSymbol);
const bySymbol = new Map(syms.map((s) => [s.native, s]));
const byLower = new Map(syms.map((s) => [s.native.toLowerCase(), s]));
const precomputeMs = performance.now() - t0;

const U_KEY = Buffer.from(',"u":', 'latin1');
const COMMA = 0x2c;
let messages = 0;
let frameBytes = 0;
let payloadBytes = 0;
let connections = 0;
let next = 0; // round-robin over symbols
let paused = false;

/** Writes the next events into one buffer of about BATCH_BYTES, each as an unmasked text frame. */
function batch(): Buffer {
  const buf = Buffer.allocUnsafe(BATCH_BYTES + 4096);
  const E = String(Date.now());
  let o = 0;
  while (o < BATCH_BYTES) {
    const s = syms[next];
    next = next + 1 === syms.length ? 0 : next + 1;
    const j = s.sent % DIFFS;
    const shift = Math.floor(s.sent / DIFFS) * s.span;
    const U = String(s.base + shift + s.UOff[j]);
    const u = String(s.base + shift + s.uOff[j]);
    const tail = s.tails[j];
    const len = s.pre.length + E.length + s.mid.length + U.length + U_KEY.length + u.length + 1 + tail.length;
    buf[o++] = 0x81; // FIN, text
    if (len < 126) buf[o++] = len;
    else {
      buf[o++] = 126;
      buf.writeUInt16BE(len, o);
      o += 2;
    }
    o += s.pre.copy(buf, o);
    o += buf.write(E, o, 'latin1');
    o += s.mid.copy(buf, o);
    o += buf.write(U, o, 'latin1');
    o += U_KEY.copy(buf, o);
    o += buf.write(u, o, 'latin1');
    buf[o++] = COMMA;
    o += tail.copy(buf, o);
    s.sent++;
    messages++;
    payloadBytes += len;
  }
  frameBytes += o;
  return buf.subarray(0, o);
}

// ── HTTP: GET /api/v3/depth ────────────────────────────────────────────────────────────

/** The book after the first `events` events of `s` (all loops), best `limit` levels a side. */
function bookAfter(s: Sym, events: number, limit: number): { lastUpdateId: number; bids: [string, string][]; asks: [string, string][] } {
  const loops = Math.floor(events / DIFFS);
  const j = events % DIFFS;
  const bids = [...(loops === 0 ? s.initialBids : s.afterFirstLoopBids)];
  const asks = [...(loops === 0 ? s.initialAsks : s.afterFirstLoopAsks)];
  for (let i = 0; i < j; i++) {
    const c = s.changes[i];
    for (let x = 0; x < c.side.length; x++) (c.side[x] === 0 ? bids : asks)[c.level[x]] = c.qty[x] === ZERO ? '' : c.qty[x];
  }
  const last = events - 1;
  const lastUpdateId = last < 0 ? s.base : s.base + Math.floor(last / DIFFS) * s.span + s.uOff[last % DIFFS];
  const out = (side: Side, price: string[]) => {
    const levels: [string, string][] = [];
    for (let k = 0; k < LEVELS && levels.length < limit; k++) if (side[k] !== '') levels.push([price[k], side[k]]);
    return levels;
  };
  return { lastUpdateId, bids: out(bids, s.bidPrice), asks: out(asks, s.askPrice) };
}

function onRequest(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  const s = bySymbol.get(url.searchParams.get('symbol') ?? '');
  const limit = Number(url.searchParams.get('limit') ?? 100);
  const reply = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.method !== 'GET' || url.pathname !== '/api/v3/depth') return reply(404, { code: -1000, msg: 'not found' });
  if (!s) return reply(400, { code: -1121, msg: 'Invalid symbol.' });
  if (!Number.isInteger(limit) || limit < 1 || limit > 5000) return reply(400, { code: -1100, msg: 'Illegal characters found in parameter \'limit\'.' });
  reply(200, bookAfter(s, s.sent, limit));
}

// ── WebSocket: /stream?streams=… ────────────────────────────────────────────────────────

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false });
const http = createServer(onRequest);
http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const streams = (url.searchParams.get('streams') ?? '').split('/').filter(Boolean);
  const known = streams.every((st) => {
    const m = /^([a-z0-9]+)@(depth@100ms|trade)$/.exec(st);
    return m !== null && byLower.has(m[1]);
  });
  if (url.pathname !== '/stream' || streams.length === 0 || !known) {
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    connections++;
    let open = true;
    ws.on('close', () => (open = false));
    ws.on('error', () => (open = false));
    // The symbols this connection asked for must be every symbol: the round-robin serves them all.
    const depthOf = new Set(streams.filter((st) => st.endsWith('@depth@100ms')).map((st) => st.split('@')[0]));
    if (depthOf.size !== syms.length) {
      ws.close(1008, `subscribe to all ${syms.length} depth streams`);
      return;
    }
    const pump = (): void => {
      // A few batches per turn, so snapshot requests and IPC are answered under full load too.
      if (paused) return;
      for (let i = 0; i < BATCHES_PER_TURN && open && ws.bufferedAmount < LOW_WATER; i++) {
        if (!socket.write(batch())) return; // the kernel's buffers are full: 'drain' resumes us
      }
      if (open && ws.bufferedAmount < LOW_WATER) setImmediate(pump);
    };
    socket.on('drain', () => open && pump());
    pump();
  });
});
http.listen(0, '127.0.0.1', () => {
  const port = (http.address() as AddressInfo).port;
  serveIpc({
    stats: () => ({ messages, frameBytes, payloadBytes, connections }),
    pause: () => (paused = true),
    top: (a) => {
      const s = bySymbol.get(String(a.symbol));
      if (!s) throw new Error(`unknown symbol ${String(a.symbol)}`);
      const events = countUpTo(s, Number(a.u));
      const book = bookAfter(s, events, Number(a.n));
      if (book.lastUpdateId !== Number(a.u)) throw new Error(`${s.native}: no event ends at update id ${String(a.u)}`);
      return book;
    },
    covered: (a) => {
      const s = bySymbol.get(String(a.symbol));
      if (!s) throw new Error(`unknown symbol ${String(a.symbol)}`);
      return countUpTo(s, Number(a.upTo)) - countUpTo(s, Number(a.after));
    },
  });
  readyIpc({ port, symbols: syms.map((s) => s.native), precomputeMs: Math.round(precomputeMs), eventsPerSymbol: DIFFS, levels: LEVELS });
});

/** Events of `s` (all loops) with u <= x. */
function countUpTo(s: Sym, x: number): number {
  const y = x - s.base;
  if (y <= 0) return 0;
  const loops = Math.floor((y - 1) / s.span);
  const r = y - loops * s.span;
  let lo = 0;
  let hi = DIFFS;
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (s.uOff[m] <= r) lo = m + 1;
    else hi = m;
  }
  return loops * DIFFS + lo;
}
