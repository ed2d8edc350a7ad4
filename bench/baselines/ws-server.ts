// What the two `ws` baselines share: a `ws` server with per-symbol subscriber sets, fed by the common simulator; they differ only in how they send.
//
// A client over 1 MiB of unsent bytes is skipped for that update (the generator sees the gap):
// without that check the server's memory grows until it dies, which is no fairer a comparison.

import { WebSocketServer, type WebSocket } from 'ws';
import { type BaselineFrame, onStop, settings, startFeed, subscribeSymbol } from './feed.js';

export const MAX_BUFFERED_BYTES = 1024 * 1024;

/** Starts the server; `publish` sends one update to the symbol's subscribers. Prints `listening <port>`. */
export function startWsBaseline(publish: (subscribers: Set<WebSocket>, frame: BaselineFrame) => void): void {
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
  const feed = startFeed(s, (i, frame) => publish(subscribers[i], frame));
  wss.on('listening', () => process.stdout.write(`listening ${(wss.address() as { port: number }).port}\n`));
  onStop(() => void feed.stop());
}
