// Baseline "ws, stringify per client": a `ws` server that JSON.stringifies each update for each subscriber (what a typical Python or Node service behind a chart does).
// Run: SYMBOLS=A,B SIM_UPDATES_PER_SECOND=100 BOOK_DEPTH=5 node --import tsx bench/baselines/ws-stringify.ts  (prints `listening <port>`)

import { MAX_BUFFERED_BYTES, startWsBaseline } from './ws-server.js';

startWsBaseline((subscribers, frame) => {
  for (const ws of subscribers) {
    if (ws.bufferedAmount < MAX_BUFFERED_BYTES) ws.send(JSON.stringify(frame));
  }
});
