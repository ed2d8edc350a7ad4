// Baseline "ws, stringify per client": a `ws` server that JSON.stringifies each update for each subscriber (what the seeds' Python services do).
// Run: SYMBOLS=A,B SIM_UPDATES_PER_SECOND=100 BOOK_DEPTH=5 node --import tsx bench/baselines/ws-stringify.ts  (prints `listening <port>`)
//
// A client over 1 MiB of unsent bytes is skipped for that update (the generator sees the gap):
// without that check this server's memory grows until it dies, which is no fairer a comparison.

import { WebSocketServer, type WebSocket } from 'ws';
import { onStop, settings, startFeed, subscribeSymbol } from './feed.js';

const MAX_BUFFERED_BYTES = 1024 * 1024;
const s = settings();
const subscribers = s.symbols.map(() => new Set<WebSocket>());
const index = new Map(s.symbols.map((sym, i) => [sym, i]));

const wss = new WebSocketServer({ host: '127.0.0.1', port: s.port, perMessageDeflate: false, clientTracking: false });
wss.on('connection', (ws) => {
  const mine: number[] = [];
  ws.on('message', (data) => {
    const i = index.get(subscribeSymbol(String(data)) ?? '');
    if (i !== undefined) {
      subscribers[i].add(ws);
      mine.push(i);
    }
  });
  ws.on('close', () => mine.forEach((i) => subscribers[i].delete(ws)));
  ws.on('error', () => ws.terminate());
});

const feed = startFeed(s, (i, frame) => {
  for (const ws of subscribers[i]) {
    if (ws.bufferedAmount < MAX_BUFFERED_BYTES) ws.send(JSON.stringify(frame));
  }
});
wss.on('listening', () => process.stdout.write(`listening ${(wss.address() as { port: number }).port}\n`));
onStop(() => void feed.stop());
