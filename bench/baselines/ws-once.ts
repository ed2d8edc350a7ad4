// Baseline "ws, serialize once": a `ws` server that JSON.stringifies each update once and sends the same Buffer to every subscriber.
// Run: SYMBOLS=A,B SIM_UPDATES_PER_SECOND=100 BOOK_DEPTH=5 node --import tsx bench/baselines/ws-once.ts  (prints `listening <port>`)

import { MAX_BUFFERED_BYTES, startWsBaseline } from './ws-server.js';

startWsBaseline((subscribers, frame) => {
  const bytes = Buffer.from(JSON.stringify(frame));
  for (const ws of subscribers) {
    if (ws.bufferedAmount < MAX_BUFFERED_BYTES) ws.send(bytes, { binary: false });
  }
});
