// Baseline of the feeds scenario: what a plain Binance diff-depth consumer costs — a `ws` client, JSON.parse, and a Map<price, quantity> per side per symbol.
// Run (built, by bench/scenarios/feeds.ts over IPC): node dist/bench/baselines/ws-map-book.js <wsUrl> <restUrl> <SYM,SYM,…>
//
// The floor any JavaScript consumer of the same stream pays: each message is parsed and every
// level of it applied (quantity 0 deletes). One REST snapshot per symbol seeds the Maps at the
// start, so they hold the few hundred levels a side that tickplant's books hold; after that,
// no sync checks (U/u are not compared), no validation, no top-N extraction and nothing handed
// on. tickplant's connector does all of those per message, so this is the cost without them,
// not a competitor doing the same job.
//
// IPC `stats`: diffs applied, the last u per symbol (only to let the scenario count the events
// it covered, as for tickplant), levels held.

import WebSocket from 'ws';
import { readyIpc, serveIpc } from '../lib/ipc.js';

const [wsUrl, restUrl, symbolsArg] = process.argv.slice(2);
if (!symbolsArg) throw new TypeError('usage: ws-map-book.js <wsUrl> <restUrl> <SYM,SYM,…>');
const natives = symbolsArg.split(',');

type Level = [string, string];
interface Book {
  bids: Map<number, number>;
  asks: Map<number, number>;
  lastU: number;
}
const books = new Map<string, Book>(natives.map((s) => [s, { bids: new Map(), asks: new Map(), lastU: -1 }]));
let diffs = 0;
let other = 0;

function apply(side: Map<number, number>, levels: Level[]): void {
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i];
    const q = +l[1];
    if (q === 0) side.delete(+l[0]);
    else side.set(+l[0], q);
  }
}

const streams = natives.flatMap((s) => [`${s.toLowerCase()}@depth@100ms`, `${s.toLowerCase()}@trade`]);
const ws = new WebSocket(`${wsUrl}/stream?streams=${streams.join('/')}`, { perMessageDeflate: false });
ws.on('message', (data) => {
  const d = JSON.parse(data.toString()).data;
  const b = d && d.e === 'depthUpdate' ? books.get(d.s) : undefined;
  if (!b) {
    other++;
    return;
  }
  apply(b.bids, d.b);
  apply(b.asks, d.a);
  b.lastU = d.u;
  diffs++;
});
ws.on('error', (e) => {
  process.stderr.write(`ws-map-book: ${e.message}\n`);
  process.exit(1);
});
// The generator never closes first while measuring: a close here is a failed run.
ws.on('close', () => process.exit(1));
await new Promise((r) => ws.once('open', r));

// Seeded after the stream opened, as anyone would; no bridging of ids: that is what this baseline leaves out.
for (const s of natives) {
  const snap = (await (await fetch(`${restUrl}/api/v3/depth?symbol=${s}&limit=1000`)).json()) as { bids: Level[]; asks: Level[] };
  const b = books.get(s)!;
  apply(b.bids, snap.bids);
  apply(b.asks, snap.asks);
}

serveIpc({
  stats: () => ({
    diffs, other,
    lastSeq: Object.fromEntries(natives.map((s) => [s, books.get(s)!.lastU])),
    levels: [...books.values()].reduce((n, b) => n + b.bids.size + b.asks.size, 0),
  }),
});
readyIpc({ system: 'ws + JSON.parse + Map', symbols: natives.length });
