// Subscribe/unsubscribe churn on one connection: at most HISTORY_IN_FLIGHT_MAX history builds in the snapshot pool at once, whatever the client sends.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { Authenticator } from '../../src/auth/authenticator.js';
import { KeyRing } from '../../src/auth/key-ring.js';
import { OriginPolicy } from '../../src/auth/origins.js';
import { logger } from '../../src/log.js';
import { HISTORY_IN_FLIGHT_MAX, type HistoryResult, type Session, Sessions } from '../../src/actors/front/sessions.js';
import type { FrontSymbol } from '../../src/actors/front/symbols.js';
import type { Socket } from '../../src/actors/front/uws.js';
import { WsAccess } from '../../src/actors/front/ws-access.js';

function setup() {
  const cfg = loadConfig({}, { wsMessageRate: 1e6, wsMessageBurst: 1e6 });
  const builds: { symbol: string; resolve(h: HistoryResult): void }[] = [];
  const symbols = new Map<string, FrontSymbol>();
  for (let i = 0; i < 10; i++) {
    const name = `S${i}`;
    // What a subscription reads of a symbol that has no update yet.
    symbols.set(name, { channel: 'book', id: i, key: 16 * i, name, topic: `book:${name}`, epoch: 0, lastSeq: 0, stale: false, status: 'live', registeredAt: 0, encode: () => -1, trades: { channel: 'trades', key: 16 * i + 1 }, candles: Array.from({ length: 7 }, (_, k) => ({ channel: 'candles', key: 16 * i + 2 + k })), ticker: { channel: 'ticker', key: 16 * i + 9 } } as unknown as FrontSymbol);
  }
  const keys = new KeyRing(() => Promise.reject(new Error('no keys in this test')), logger('test'));
  const access = new WsAccess(cfg, new Authenticator(keys, undefined), new OriginPolicy([]), { wsRefused: new Map(), wsClosed: new Map(), wsAuthFailures: new Map() });
  const sessions = new Sessions({
    cfg,
    symbolByName: (n) => symbols.get(n),
    buildHistory: (sym) => new Promise<HistoryResult>((resolve) => builds.push({ symbol: sym.name, resolve })),
    counters: { messagesSent: 0, bytesSent: 0, resyncs: new Map(), conflations: 0, backpressureLimitHits: 0, errorsSent: new Map() },
    access,
  }, 4096);
  const sent: string[] = [];
  const upgrade = access.upgrade({ id: '', remoteAddress: '10.0.0.1', origin: '', host: '', query: new URLSearchParams() }, (state) => sessions.createSession('', state));
  const session = (upgrade as { accept: Session }).accept;
  const ws: Socket<Session> = {
    send: (m) => (sent.push(typeof m === 'string' ? m : Buffer.from(m).toString()), 1),
    subscribe: () => true, unsubscribe: () => true, getBufferedAmount: () => 0, cork: (cb) => cb(), end: () => undefined,
    getUserData: () => session,
  };
  sessions.open(ws);
  const say = (msg: object) => sessions.message(ws, JSON.stringify(msg), 64);
  const done = () => ({ bytes: Buffer.from('{"type":"historical_data"}'), lastSeq: 0, epoch: 0, points: 0 });
  return { builds, say, sent, done };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('history builds per connection', () => {
  it('churning subscribe/unsubscribe on one symbol starts at most HISTORY_IN_FLIGHT_MAX builds', async () => {
    const { builds, say } = setup();
    for (let i = 0; i < 200; i++) {
      say({ action: 'subscribe', symbol: 'S1', resolution: '1s' });
      say({ action: 'unsubscribe', symbol: 'S1' });
    }
    expect(builds).toHaveLength(HISTORY_IN_FLIGHT_MAX);
    say({ action: 'subscribe', symbol: 'S1', resolution: '1s' }); // the one that stays
    for (const b of builds.splice(0)) b.resolve({ bytes: Buffer.from('{}'), lastSeq: 0, epoch: 0, points: 0 });
    await settle();
    expect(builds).toHaveLength(1); // only the live subscription's history is built: dropped ones left no work behind
  });

  it('more subscriptions than slots wait their turn, in order, and all get their history', async () => {
    const { builds, say, sent, done } = setup();
    for (let i = 0; i < 10; i++) say({ action: 'subscribe', symbol: `S${i}`, resolution: '1s' });
    expect(builds.map((b) => b.symbol)).toEqual(['S0', 'S1', 'S2', 'S3']);
    for (let round = 0; round < 3; round++) {
      for (const b of builds.splice(0)) b.resolve(done());
      await settle();
    }
    expect(builds).toHaveLength(0);
    expect(sent.filter((m) => m.includes('historical_data'))).toHaveLength(10);
  });
});
