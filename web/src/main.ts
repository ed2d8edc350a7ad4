// The chart page served at / (built by web/build.ts): one symbol's candles, mid price, depth ladder and trades, live over the SDK.
//
// Frames are applied to state as they arrive (the SDK keeps the candles and trades) and drawn
// at most once per animation frame. Two figures are measured here and shown: navigation start →
// the first candles on screen, and book update `timestamp` → the screen (the next animation frame
// after the one that drew the ladder: by then it has been painted), as the median of the last 200.
// Both are exposed as `window.tickplant` with the SDK's counters, for tests and the console.

import { type BookData, type Candle, type Interval, INTERVALS, type SymbolStatus, TickplantClient } from '../../client/src/index.js';
import { PriceChart } from './chart.js';
import { decimalsOf, formatPrice } from './format.js';
import { Ladder } from './ladder.js';
import { RecentSamples } from './latency.js';
import { Tape } from './tape.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

const INTERVAL_MS: Record<Interval, number> = { '1s': 1e3, '1m': 6e4, '5m': 3e5, '15m': 9e5, '1h': 3.6e6, '4h': 1.44e7, '1d': 8.64e7 };
const LATENCY_SAMPLES = 200;
const TRADES_KEPT = 50;
const CANDLES_KEPT = 5000;

// ── what the page shows, from the address, then what it last showed ───────────

const params = new URLSearchParams(location.search);
let symbol = params.get('symbol') ?? localStorage.getItem('tickplant.symbol') ?? '';
const asked = params.get('interval') ?? localStorage.getItem('tickplant.interval') ?? '1m';
let interval: Interval = (INTERVALS as readonly string[]).includes(asked) ? (asked as Interval) : '1m';
/** The credential, when the server wants one: kept for this tab only. */
let token: string | undefined = sessionStorage.getItem('tickplant.token') ?? undefined;

/** Built once the socket is on its way (the end of this file); frames wait for it in `pending`. */
let chart: PriceChart | undefined;
const ladder = new Ladder($('asks'), $('bids'), $('ladder-spread'));
const tape = new Tape($('trades'));
const symbolSelect = $<HTMLSelectElement>('symbol');
const intervalSelect = $<HTMLSelectElement>('interval');
const badge = $('status');
const authForm = $<HTMLFormElement>('auth');
const latency = new RecentSamples(LATENCY_SAMPLES);

let client: TickplantClient | undefined;
let symbols: string[] = [];
let status: SymbolStatus = 'live';
/** A book frame arrived since the socket (re)opened: only then is the feed shown live. */
let bookSinceOpen = false;
let decimals = 2;
let firstCandlesMs: number | null = null;
let lastBook: { seq: number; epoch: number; data: BookData } | undefined;

// What the next animation frame draws.
const pending = { candlesReset: false, candles: new Map<string, Candle>(), book: undefined as BookData | undefined, bookTs: 0, tape: false, precision: false };
let frameRequested = false;
/** Run at the next animation frame: what the current one drew has been painted by then. */
let afterPaint: (() => void)[] = [];

// ── the connection ───────────────────────────────────────────────────────────

function connect(): void {
  client?.close();
  const c = new TickplantClient({
    url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`,
    token,
    keepState: { trades: TRADES_KEPT, candles: CANDLES_KEPT },
  });
  client = c;
  c.on('state', (s) => {
    if (s === 'open') {
      bookSinceOpen = false;
      mark('tickplant:open');
    }
    showBadge();
  });
  c.on('candle', (f) => {
    if (f.symbol !== symbol || f.interval !== interval) return;
    if (f.type === 'candles_snapshot' && f.reason !== 'resume') {
      mark('tickplant:candles-snapshot');
      pending.candlesReset = true;
      pending.candles.clear();
    } else if (!pending.candlesReset) { // else the redraw already takes the SDK's whole list
      for (const x of f.type === 'candle' ? [f.candle] : f.candles) pending.candles.set(x.time, x);
    }
    schedule();
  });
  c.on('book', (f) => {
    if (f.symbol !== symbol || f.type === 'historical_data') return;
    if (!bookSinceOpen) {
      bookSinceOpen = true;
      showBadge();
    }
    if (lastBook === undefined) {
      decimals = decimalsOf([...f.data.bid_levels, ...f.data.ask_levels].map(([p]) => p));
      pending.precision = true;
    }
    lastBook = { seq: f.seq, epoch: f.epoch, data: f.data };
    pending.book = f.data;
    pending.bookTs = Date.parse(f.timestamp);
    schedule();
  });
  c.on('trades', (f) => {
    if (f.symbol !== symbol) return;
    pending.tape = true;
    schedule();
  });
  c.on('status', (f) => {
    if (f.symbol !== symbol) return;
    status = f.status;
    showBadge();
  });
  c.on('error', (e) => {
    if (e.closeCode === 4401 || e.closeCode === 4408 || e.code === 'unauthorized') {
      askForToken(token === undefined ? 'this server needs a credential' : `refused: ${e.message}`);
    } else if (e.code === 'unknown_symbol' && e.symbol === symbol && symbols.length > 0) {
      follow(symbols[0], interval);
    } else console.warn('tickplant:', e.source, e.code, e.message);
  });
  if (symbol !== '') subscribe();
}

function subscribe(): void {
  client?.subscribe(symbol, { channels: ['book', 'trades', `candles:${interval}`], resolution: 'none' });
}

/** Shows `next` at `nextInterval`: the old subscription goes, the views start empty. */
function follow(next: string, nextInterval: Interval): void {
  if (next === symbol && nextInterval === interval) return;
  const c = client;
  if (c && symbol !== '') {
    if (next === symbol) c.unsubscribe(symbol, [`candles:${interval}`]);
    else c.unsubscribe(symbol);
  }
  if (next !== symbol) {
    lastBook = undefined;
    status = 'live';
    bookSinceOpen = false;
    ladder.clear();
    tape.draw([], decimals);
  }
  symbol = next;
  interval = nextInterval;
  remember();
  chart?.clear();
  chart?.setInterval(interval);
  pending.candles.clear();
  pending.candlesReset = false;
  subscribe();
  showBadge();
}

function remember(): void {
  localStorage.setItem('tickplant.symbol', symbol);
  localStorage.setItem('tickplant.interval', interval);
  history.replaceState(null, '', `?symbol=${encodeURIComponent(symbol)}&interval=${interval}`);
  symbolSelect.value = symbol;
  intervalSelect.value = interval;
}

// ── the symbol list and the credential ───────────────────────────────────────

async function loadSymbols(): Promise<void> {
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  let r: Response;
  try {
    r = await fetch('/symbols', { headers });
  } catch (e) {
    console.warn('tickplant: GET /symbols failed', e);
    setTimeout(() => void loadSymbols(), 2000);
    return;
  }
  if (r.status === 401) {
    const body = (await r.json().catch(() => undefined)) as { error?: { message?: string } } | undefined;
    askForToken(token === undefined ? 'this server needs a credential' : `refused: ${body?.error?.message ?? r.status}`);
    return;
  }
  if (!r.ok) {
    console.warn(`tickplant: GET /symbols answered ${r.status}`);
    return;
  }
  authForm.hidden = true;
  const list = ((await r.json()) as { symbols: { symbol: string }[] }).symbols.map((s) => s.symbol);
  symbols = list;
  symbolSelect.replaceChildren(...list.map((s) => new Option(s, s)));
  if (symbol === '' || !list.includes(symbol)) {
    if (list.length > 0) follow(list[0], interval);
  } else symbolSelect.value = symbol;
}

function askForToken(message: string): void {
  authForm.hidden = false;
  $('auth-message').textContent = message;
  $<HTMLInputElement>('token').focus();
}

authForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const value = $<HTMLInputElement>('token').value.trim();
  if (value === '') return;
  token = value;
  sessionStorage.setItem('tickplant.token', value);
  $('auth-message').textContent = 'connecting…';
  connect();
  void loadSymbols();
});

symbolSelect.addEventListener('change', () => follow(symbolSelect.value, interval));
intervalSelect.addEventListener('change', () => follow(symbol, intervalSelect.value as Interval));

// ── drawing ──────────────────────────────────────────────────────────────────

function schedule(): void {
  if (frameRequested) return;
  frameRequested = true;
  requestAnimationFrame(draw);
}

function draw(): void {
  frameRequested = false;
  if (chart === undefined) return; // drawn once it exists
  if (pending.precision) {
    pending.precision = false;
    chart.setPrecision(decimals);
  }
  const paintedNow = afterPaint;
  afterPaint = [];
  for (const f of paintedNow) f();
  const state = client?.state(symbol);
  if (pending.candlesReset || pending.candles.size > 0) {
    const all = state?.candles[interval] ?? [];
    const changed = [...pending.candles.values()].sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
    if (pending.candlesReset || !chart.updateCandles(changed)) chart.setCandles(all);
    pending.candlesReset = false;
    pending.candles.clear();
    const last = all[all.length - 1];
    if (last) $('last').textContent = formatPrice(last.close, decimals);
    if (firstCandlesMs === null && all.length > 0) {
      mark('tickplant:candles-applied');
      // lightweight-charts draws in an animation frame of its own, the next one: the candles are
      // on screen at the frame after that.
      afterPaint.push(() => afterPaint.push(() => {
        firstCandlesMs ??= performance.now();
        $('first-candles').textContent = `${Math.round(firstCandlesMs)} ms`;
      }));
    }
  }
  const book = pending.book;
  if (book) {
    pending.book = undefined;
    ladder.draw(book, decimals);
    if (book.mid_price !== null) {
      chart.setMid(chart.bucketOf(pending.bookTs, INTERVAL_MS[interval]), book.mid_price);
      $('mid').textContent = formatPrice(book.mid_price, decimals);
    }
    $('spread').textContent = book.spread === null || book.spread_percentage === null
      ? '–'
      : `${formatPrice(book.spread, decimals)} (${book.spread_percentage.toFixed(3)}%)`;
    const ts = pending.bookTs;
    afterPaint.push(() => {
      latency.add(performance.timeOrigin + performance.now() - ts);
      const p50 = latency.p50();
      $('latency').textContent = p50 === null ? '–' : `${p50.toFixed(1)} ms`;
    });
  }
  if (pending.tape && state) {
    pending.tape = false;
    tape.draw(state.trades, decimals);
  }
  showCounters();
  if (afterPaint.length > 0) schedule();
}

/** The first of each step towards the first candles, in the browser's performance timeline. */
function mark(name: string): void {
  if (firstCandlesMs === null && performance.getEntriesByName(name).length === 0) performance.mark(name);
}

function badgeState(): string {
  const conn = client?.connectionState ?? 'connecting';
  if (conn !== 'open') return conn; // connecting, reconnecting, closed
  if (!bookSinceOpen && status === 'live') return 'connecting';
  return status; // live, stale, resyncing, no_data
}

function showBadge(): void {
  const s = badgeState();
  badge.dataset.state = s;
  badge.textContent = s.replace('_', ' ');
}

let countersText = '';
function showCounters(): void {
  const c = client?.counters;
  if (!c) return;
  const text = `gaps ${c.gaps} · resyncs ${c.resyncs} · reconnects ${c.reconnects}`;
  if (text !== countersText) $('counters').textContent = countersText = text;
}

// ── for tests and the console ────────────────────────────────────────────────

const view = {
  /** performance.now() (navigation start = 0) when the first candles had been painted; null before. */
  get firstCandlesMs() { return firstCandlesMs; },
  /** The SDK's counters: messages, gaps, resumes, resyncs, resets, reconnects, discarded. */
  get counters() { return client ? { ...client.counters } : undefined; },
  get connection() { return client?.connectionState ?? 'closed'; },
  /** What the badge says: live, stale, resyncing, no_data, connecting, reconnecting, closed. */
  get badge() { return badge.dataset.state; },
  get symbol() { return symbol; },
  get interval() { return interval; },
  /** Median feed→screen latency in ms over the last 200 book updates drawn, and how many were measured. */
  get latencyP50Ms() { return latency.p50(); },
  get latencySamples() { return latency.count; },
  /** The candles the chart holds (time in seconds), oldest first. */
  candles: () => chart?.drawn() ?? [],
  get book() { return lastBook ? { seq: lastBook.seq, epoch: lastBook.epoch, bestBid: lastBook.data.best_bid, bestAsk: lastBook.data.best_ask } : null; },
  /** The newest trade held, with how many are held. */
  get trades() { const t = client?.state(symbol)?.trades ?? []; return { count: t.length, last: t[t.length - 1] ?? null }; },
  get needsToken() { return !authForm.hidden; },
};
declare global {
  interface Window { tickplant: typeof view }
}
window.tickplant = view;

// The socket first: its handshake, the symbols request and the chart's construction overlap.
// The SDK opens the socket a few microtasks after connect(); a task later they have all run.
if (symbol !== '') remember();
showBadge();
connect();
void loadSymbols();
await new Promise((r) => setTimeout(r, 0));
chart = new PriceChart($('chart'));
chart.setInterval(interval);
schedule(); // whatever arrived meanwhile
