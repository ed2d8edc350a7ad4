// Baseline "socket.io": one room per symbol, `io.to(symbol).emit` per update (the framework most teams reach for).
// Run: SYMBOLS=A,B SIM_UPDATES_PER_SECOND=100 BOOK_DEPTH=5 node --import tsx bench/baselines/socketio.ts  (prints `listening <port>`)
//
// WebSocket transport only, no compression: the generator speaks engine.io v4 over WebSocket
// (`40` connect, `42["subscribe","SYM"]`, pong `3` to ping `2`). socket.io's subscribe is its
// own event, not tickplant's JSON message: that is how its users write it. A broadcast encodes
// the packet once and writes it to each socket in the room.

import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { onStop, settings, startFeed } from './feed.js';

const s = settings();
const known = new Set(s.symbols);
const http = createServer();
const io = new Server(http, { transports: ['websocket'], perMessageDeflate: false, serveClient: false });
io.on('connection', (socket) => {
  socket.on('subscribe', (symbol: unknown) => {
    if (typeof symbol === 'string' && known.has(symbol)) void socket.join(symbol);
  });
});
const feed = startFeed(s, (i, frame) => io.to(s.symbols[i]).emit('orderbook_update', frame));
http.listen(s.port, '127.0.0.1', () => process.stdout.write(`listening ${(http.address() as { port: number }).port}\n`));
onStop(() => void feed.stop());
