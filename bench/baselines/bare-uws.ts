// Baseline "bare uWS", the ceiling of this stack: uWS publishing pre-encoded frames to one topic per symbol, no runtime.
// Run: SYMBOLS=A,B SIM_UPDATES_PER_SECOND=100 BOOK_DEPTH=5 node --import tsx bench/baselines/bare-uws.ts  (prints `listening <port>`)
//
// At start it generates 1,024 updates per symbol with the same simulator and encodes their
// `data` once; live, every update is a string concatenation of header (seq, timestamp) and one
// of those bodies, then one `app.publish`. No book, metrics, rings or persistence: the cost
// left is uWS's per-subscriber copy, which is what tickplant's fan-out should come close to.

import uWS from 'uWebSockets.js';
import { SimulatorFeed } from '../../src/feeds/simulator.js';
import { isoMicros, onStop, settings, subscribeSymbol, toFrame } from './feed.js';

const PRE_ENCODED = 1024;
const s = settings();
const sim = new SimulatorFeed({ symbols: s.symbols, updatesPerSecond: s.updatesPerSecond, depth: s.depth, seed: s.seed });
const epoch = Date.now();
const bodies = s.symbols.map((_, i) =>
  Array.from({ length: PRE_ENCODED }, () => JSON.stringify(toFrame(sim.generateOne(i), epoch, 0).data)),
);
const heads = s.symbols.map((sym) => `{"type":"orderbook_update","symbol":${JSON.stringify(sym)},"epoch":${epoch},"seq":`);
const known = new Set(s.symbols);
const seqs = new Float64Array(s.symbols.length);

const app = uWS.App();
app.ws('/*', {
  compression: uWS.DISABLED,
  maxBackpressure: 64 * 1024 * 1024, // tickplant's WS_MAX_BACKPRESSURE default; over it uWS skips the socket (a gap)
  closeOnBackpressureLimit: 0,
  idleTimeout: 0,
  message: (ws, message) => {
    const symbol = subscribeSymbol(Buffer.from(message).toString());
    if (symbol !== null && known.has(symbol)) ws.subscribe(symbol);
  },
});

let last = performance.now();
let owed = 0;
const timer = setInterval(() => {
  const now = performance.now();
  owed += (s.updatesPerSecond * Math.min(now - last, 100)) / 1000;
  last = now;
  const rounds = Math.floor(owed);
  owed -= rounds;
  for (let k = 0; k < rounds; k++) {
    const ts = isoMicros(Math.round((performance.timeOrigin + performance.now()) * 1000) / 1000);
    for (let i = 0; i < s.symbols.length; i++) {
      const seq = ++seqs[i];
      app.publish(s.symbols[i], `${heads[i]}${seq},"timestamp":"${ts}","data":${bodies[i][seq & (PRE_ENCODED - 1)]}}`, false);
    }
  }
}, s.tickMs);

app.listen('127.0.0.1', s.port, (token) => {
  if (!token) throw new Error(`bare-uws: cannot listen on port ${s.port}`);
  process.stdout.write(`listening ${uWS.us_socket_local_port(token)}\n`);
});
onStop(() => clearInterval(timer));
