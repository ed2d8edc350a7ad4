// The client SDK's sequence checker on scripted frames of every channel, and the client around it
// on a scripted socket: a gap is counted, not applied, and recovered by a resume; a lost
// connection is resumed per channel with backoff; the chart state applies candles by time.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  ChannelSequence, type SequencedFrame, type TickplantError, TickplantClient, type Verdict,
} from '../../client/src/index.js';

const E = 1_700_000_000_000;
const S = 'US.AAPL';
const data = { best_bid: 1, best_ask: 2, mid_price: 1.5, spread: 1, spread_percentage: 66, bid_volume: 1, ask_volume: 1, total_volume: 2, imbalance: 0, microprice: 1.5, bid_levels: [[1, 1]], ask_levels: [[2, 1]] };
const ts = '2026-01-02T10:00:00.000Z';

const book = {
  history: (seq: number, epoch = E) => ({ type: 'historical_data', symbol: S, epoch, seq, from: ts, resolution_ms: 60_000, points: 0, data: [] }),
  snapshot: (seq: number, epoch = E) => ({ type: 'orderbook_snapshot', symbol: S, epoch, seq, timestamp: ts, data }),
  update: (seq: number, epoch = E, reset = false) => ({ type: 'orderbook_update', symbol: S, epoch, seq, timestamp: ts, data, ...(reset ? { reset: true } : {}) }),
  resync: (seq: number, epoch = E, reason = 'epoch_changed') => ({ type: 'resync', symbol: S, epoch, seq, reason, timestamp: ts, data }),
};
const trade = (seq: number, epoch = E) => ({ type: 'trade', symbol: S, epoch, seq, trade_id: `t${seq}`, price: 100 + seq, size: 1, side: 'buy', timestamp: ts });
const tradesSnapshot = (seq: number, epoch = E, reason?: string) => ({
  type: 'trades_snapshot', symbol: S, epoch, seq, ...(reason ? { reason } : {}), trades: seq === 0 ? [] : [{ ...trade(seq, epoch), type: undefined }],
});
const candle = (time: string, close: number, closed = false) => ({ time, open: 1, high: 9, low: 1, close, volume: 1, trades: 1, vwap: 1, closed });
const candleFrame = (seq: number, c: ReturnType<typeof candle>, epoch = E) => ({ type: 'candle', symbol: S, interval: '1m', epoch, seq, candle: c });
const candlesSnapshot = (seq: number, candles: ReturnType<typeof candle>[], reason?: string, epoch = E) => ({
  type: 'candles_snapshot', symbol: S, interval: '1m', epoch, seq, ...(reason ? { reason } : {}), candles,
});
const ticker = (seq: number, epoch = E, reason?: string) => ({
  type: 'ticker', symbol: S, epoch, seq, ...(reason ? { reason } : {}),
  ticker: seq === 0 ? null : { window_start: ts, open: 1, high: 2, low: 1, last: 2, volume: seq, quote_volume: 1, change: 1, change_percent: 100, trades: seq },
});

/** The verdicts of a channel's checker over `frames`. */
function run(seq: ChannelSequence, frames: object[]): Verdict[] {
  return frames.map((f) => seq.check(f as SequencedFrame));
}

describe('the sequence checker', () => {
  it('book: history is outside the sequence, the snapshot sets the base, updates are +1, a reset update follows too', () => {
    const seq = new ChannelSequence('book');
    expect(run(seq, [book.history(10), book.snapshot(10), book.update(11), book.update(12, E, true), book.update(13)]))
      .toEqual(['info', 'base', 'next', 'next', 'next']);
    expect(seq.last).toEqual({ seq: 13, epoch: E });
  });

  it('book: a skipped seq, a repeated seq, an update before the snapshot and a new epoch without a resync are gaps, and are not applied', () => {
    const seq = new ChannelSequence('book');
    expect(run(seq, [book.update(1)])).toEqual(['gap']);
    expect(run(seq, [book.snapshot(5), book.update(7), book.update(5), book.update(6, E + 1), book.update(6)])).toEqual(['base', 'gap', 'gap', 'gap', 'next']);
    expect(seq.last).toEqual({ seq: 6, epoch: E });
  });

  it('book: a resync replaces the base at any time, in a new epoch too', () => {
    const seq = new ChannelSequence('book');
    expect(run(seq, [book.snapshot(5), book.update(6), book.resync(1, E + 9), book.update(2, E + 9), book.resync(40, E + 9, 'slow_consumer'), book.update(41, E + 9)]))
      .toEqual(['base', 'next', 'base', 'next', 'base', 'next']);
  });

  it('trades: after an empty snapshot the first trade is seq 1 and sets the epoch; a snapshot with a reason restarts the sequence', () => {
    const seq = new ChannelSequence('trades');
    expect(run(seq, [tradesSnapshot(0, 0), trade(1, E), trade(2, E), tradesSnapshot(50, E + 1, 'epoch_changed'), trade(51, E + 1), trade(51, E + 1), trade(53, E + 1)]))
      .toEqual(['base', 'next', 'next', 'base', 'next', 'gap', 'gap']);
    expect(seq.resumePoint()).toEqual({ seq: 51, epoch: E + 1 });
  });

  it('trades: no resume point before the first trade (the server takes epochs >= 1 only)', () => {
    const seq = new ChannelSequence('trades');
    seq.check(tradesSnapshot(0, 0) as SequencedFrame);
    expect(seq.resumePoint()).toBeUndefined();
  });

  it('candles: the snapshot sets the base, each candle is +1', () => {
    const seq = new ChannelSequence('candles:1m');
    const c = candle('2026-01-02T10:00:00.000Z', 5);
    expect(run(seq, [candlesSnapshot(7, [c]), candleFrame(8, c), candleFrame(9, c), candleFrame(11, c), candlesSnapshot(20, [c], 'gap'), candleFrame(21, c)]))
      .toEqual(['base', 'next', 'next', 'gap', 'base', 'next']);
  });

  it('ticker: the first frame is the snapshot (null before the first trade), then +1; a frame with a reason is a base', () => {
    const seq = new ChannelSequence('ticker');
    expect(run(seq, [ticker(0, 0), ticker(1, E), ticker(2, E), ticker(4, E), ticker(9, E + 1, 'epoch_changed'), ticker(10, E + 1)]))
      .toEqual(['base', 'next', 'next', 'gap', 'base', 'next']);
  });

  it('resume: the next frame follows the last point, or is a base; anything else is a gap', () => {
    for (const [frame, verdict] of [[book.update(101), 'next'], [book.resync(400), 'base'], [book.update(105), 'gap'], [book.update(101, E + 1), 'gap']] as const) {
      const seq = new ChannelSequence('book');
      run(seq, [book.snapshot(100)]);
      seq.expect = 'resume';
      expect(seq.check(frame as SequencedFrame), JSON.stringify(frame)).toBe(verdict);
    }
    const t = new ChannelSequence('ticker');
    run(t, [ticker(3)]);
    t.expect = 'resume';
    expect(run(t, [ticker(4), ticker(5, E, 'resume')])).toEqual(['next', 'base']);
  });

  it('while an unsubscribe is unanswered every frame is the old subscription\'s: discarded', () => {
    const seq = new ChannelSequence('book');
    run(seq, [book.snapshot(1)]);
    seq.drains = 1;
    expect(run(seq, [book.update(2), book.update(9), book.resync(20)])).toEqual(['discard', 'discard', 'discard']);
    expect(seq.last).toEqual({ seq: 1, epoch: E });
  });
});

/** A scripted WebSocket: the test plays the server. */
class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  readonly sent: Record<string, unknown>[] = [];
  onopen: ((e: unknown) => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: ((e: { code: number; reason: string }) => void) | null = null;
  onerror: ((e: unknown) => void) | null = null;
  closedWith?: number;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  static get last(): FakeSocket {
    return FakeSocket.all[FakeSocket.all.length - 1];
  }
  send(data: string): void {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }
  close(code = 1000): void {
    this.closedWith = code;
    this.readyState = 3;
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  frames(...fs: object[]): void {
    for (const f of fs) this.onmessage?.({ data: JSON.stringify(f) });
  }
  drop(code = 1006): void {
    this.readyState = 3;
    this.onclose?.({ code, reason: '' });
  }
}

const tick = () => vi.advanceTimersByTimeAsync(0);

describe('the client on a scripted server', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.all = [];
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  async function connected(options: Partial<ConstructorParameters<typeof TickplantClient>[0]> = {}) {
    const client = new TickplantClient({ url: 'ws://tickplant.test/ws', WebSocket: FakeSocket, pingIntervalMs: 0, keepState: true, ...options });
    const got: { events: string[]; errors: TickplantError[]; frames: SequencedFrame[] } = { events: [], errors: [], frames: [] };
    for (const e of ['book', 'trades', 'candle', 'ticker'] as const) client.on(e, (f) => got.frames.push(f));
    client.on('state', (s) => got.events.push(s));
    client.on('error', (e) => got.errors.push(e));
    await tick();
    FakeSocket.last.open();
    return { client, got };
  }

  it('sends the token first, then the subscribe; ?token= when asked', async () => {
    const { client } = await connected({ token: 'k1' });
    client.subscribe(S, { channels: ['book', 'candles:1m'], resolution: '1m' });
    expect(FakeSocket.last.sent).toEqual([
      { action: 'auth', token: 'k1' },
      { action: 'subscribe', symbol: S, channels: ['book', 'candles:1m'], resolution: '1m' },
    ]);
    client.close();
    await connected({ token: () => 'a b', tokenIn: 'query' });
    expect(FakeSocket.last.url).toBe('ws://tickplant.test/ws?token=a%20b');
    expect(FakeSocket.last.sent).toEqual([]);
  });

  it('a gap: counted and reported, the frame not delivered; the channel is unsubscribed and resumed from its last point, old frames discarded until the answer', async () => {
    const { client, got } = await connected();
    client.subscribe(S);
    const ws = FakeSocket.last;
    ws.frames(book.history(3), book.snapshot(3), book.update(4), book.update(6), book.update(7));
    expect(client.counters.gaps).toBe(1);
    expect(got.errors).toEqual([expect.objectContaining({ source: 'client', code: 'sequence_gap', symbol: S, channel: 'book', last: { seq: 4, epoch: E }, got: { seq: 6, epoch: E } })]);
    expect(ws.sent.slice(1)).toEqual([
      { action: 'unsubscribe', symbol: S, channels: ['book'] },
      { action: 'subscribe', symbol: S, channels: ['book'], resume: { book: { seq: 4, epoch: E } } },
    ]);
    // update 7 came before the answer: the broken subscription's, discarded.
    ws.frames({ type: 'unsubscribed', symbol: S, channels: ['book'] }, book.update(5), book.update(6), book.update(7));
    expect(client.counters.discarded).toBe(1);
    expect(got.frames.map((f) => [f.type, f.seq])).toEqual([
      ['historical_data', 3], ['orderbook_snapshot', 3], ['orderbook_update', 4], ['orderbook_update', 5], ['orderbook_update', 6], ['orderbook_update', 7],
    ]);
    expect(client.counters.resumes).toBe(1);
    expect(client.state(S)?.book?.seq).toBe(7);
  });

  it('a lost connection: reconnects with growing, jittered delays and resumes every channel from its last point (fresh where it has none)', async () => {
    const { client, got } = await connected({ reconnect: { minDelayMs: 100, maxDelayMs: 1000 } });
    client.subscribe(S, { channels: ['book', 'trades', 'ticker'] });
    FakeSocket.last.frames(book.snapshot(10), book.update(11), tradesSnapshot(0, 0), ticker(5), ticker(6));
    const random = vi.spyOn(Math, 'random');
    const delays: number[] = [];
    for (const r of [0, 0.999, 0, 0.999, 0.5]) {
      random.mockReturnValueOnce(r);
      const before = FakeSocket.all.length;
      const t0 = Date.now();
      FakeSocket.last.drop();
      while (FakeSocket.all.length === before) await vi.advanceTimersByTimeAsync(1);
      delays.push(Date.now() - t0);
    }
    random.mockRestore();
    // Ceilings 100, 200, 400, 800, 1000 (the max); each delay is 50–100 % of its ceiling.
    const expected = [100 * 0.5, 200 * 0.9995, 400 * 0.5, 800 * 0.9995, 1000 * 0.75];
    expect(delays.map((d, i) => Math.abs(d - expected[i]) <= 1), `${delays}`).toEqual([true, true, true, true, true]);
    FakeSocket.last.open();
    expect(FakeSocket.last.sent).toEqual([
      { action: 'subscribe', symbol: S, channels: ['book', 'trades', 'ticker'], resume: { book: { seq: 11, epoch: E }, ticker: { seq: 6, epoch: E } } },
    ]);
    expect(client.counters).toMatchObject({ reconnects: 1, resumes: 2, gaps: 0 });
    expect(got.events).toEqual(['connecting', 'open', 'reconnecting', 'open']);
    // The resumed channels continue; trades start afresh.
    FakeSocket.last.frames(book.update(12), tradesSnapshot(3, E + 1, 'epoch_changed'), trade(4, E + 1), ticker(9, E, 'resume'), ticker(10));
    expect(client.counters).toMatchObject({ gaps: 0, resyncs: 1 });
    expect(client.state(S)?.ticker?.volume).toBe(10);
  });

  it('4401 without a token function: closed for good, no reconnect', async () => {
    const { client, got } = await connected({ token: 'bad' });
    FakeSocket.last.drop(4401);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.all).toHaveLength(1);
    expect(client.connectionState).toBe('closed');
    expect(got.errors).toEqual([expect.objectContaining({ code: 'closed', closeCode: 4401 })]);
  });

  it('a dead socket (nothing received for two ping periods and 5 s) is replaced', async () => {
    await connected({ pingIntervalMs: 1000 });
    await vi.advanceTimersByTimeAsync(1000);
    expect(FakeSocket.last.sent).toEqual([{ action: 'ping' }]);
    await vi.advanceTimersByTimeAsync(7000);
    expect(FakeSocket.all[0].closedWith).toBe(1000);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(FakeSocket.all.length).toBeGreaterThan(1);
  });

  it('sends are paced under the server\'s message rate', async () => {
    const { client } = await connected({ sendRate: { perSecond: 10, burst: 5 } });
    for (let i = 0; i < 15; i++) client.subscribe(`SYM${i}`);
    expect(FakeSocket.last.sent).toHaveLength(5);
    await vi.advanceTimersByTimeAsync(500);
    expect(FakeSocket.last.sent).toHaveLength(10);
    await vi.advanceTimersByTimeAsync(500);
    expect(FakeSocket.last.sent).toHaveLength(15);
  });

  it('chart state: candles applied by time (a resume snapshot merged, a full one replacing), the last N trades', async () => {
    const { client } = await connected({ keepState: { trades: 3 } });
    client.subscribe(S, { channels: ['candles:1m', 'trades'] });
    const ws = FakeSocket.last;
    const t = (m: number) => `2026-01-02T10:0${m}:00.000Z`;
    ws.frames(
      candlesSnapshot(5, [candle(t(0), 1, true), candle(t(1), 2)]),
      candleFrame(6, candle(t(1), 3, true)), candleFrame(7, candle(t(2), 4)),
      candleFrame(8, candle(t(0), 9, true)), // a late trade republishes an earlier bucket
      candlesSnapshot(9, [candle(t(2), 5)], 'resume'),
    );
    expect(client.state(S)!.candles['1m']!.map((c) => [c.time, c.close])).toEqual([[t(0), 9], [t(1), 3], [t(2), 5]]);
    ws.frames(candlesSnapshot(20, [candle(t(3), 7)], 'slow_consumer'));
    expect(client.state(S)!.candles['1m']!.map((c) => c.close)).toEqual([7]);
    ws.frames(tradesSnapshot(0, 0), trade(1), trade(2), trade(3), trade(4));
    expect(client.state(S)!.trades.map((x) => x.seq)).toEqual([2, 3, 4]);
    expect(client.state(S)!.trades[0]).toEqual({ seq: 2, trade_id: 't2', price: 102, size: 1, side: 'buy', timestamp: ts });
    expect(client.counters.gaps).toBe(0);
  });

  it('refuses bad options naming them', () => {
    expect(() => new TickplantClient({ url: 'http://x/ws', WebSocket: FakeSocket })).toThrow(/^url: /);
    const c = new TickplantClient({ url: 'ws://x/ws', WebSocket: FakeSocket });
    expect(() => c.subscribe(S, { channels: ['candles:2m' as never] })).toThrow(/channels: /);
    expect(() => c.subscribe('bad symbol')).toThrow(/symbol: /);
    expect(() => c.on('nope' as never, () => undefined)).toThrow(/unknown event/);
    c.close();
  });
});
