// What every baseline shares: the same simulated updates as tickplant, as the same JSON frame object.
//
// Each baseline runs src/feeds/simulator.ts in its own process with tickplant's settings
// (SYMBOLS, SIM_UPDATES_PER_SECOND, SIM_SEED, BOOK_DEPTH from the environment, as tickplant
// reads them), so it generates the same books at the same rate; per update it builds the
// frame tickplant would send (`orderbook_update` with a per-symbol `seq`, one `epoch`, the
// microsecond timestamp and the same `data` fields) and hands it to `onFrame`. How it turns
// that object into bytes for its clients is what the baseline measures.

import { SimulatorFeed } from '../../src/feeds/simulator.js';
import type { BookUpdate } from '../../src/feeds/types.js';

export interface BaselineFrame {
  type: 'orderbook_update';
  symbol: string;
  epoch: number;
  seq: number;
  timestamp: string;
  data: Record<string, number | null | number[][]>;
}

export interface BaselineSettings {
  symbols: string[];
  updatesPerSecond: number;
  seed: number;
  depth: number;
  port: number;
  tickMs: number;
}

export function settings(env = process.env): BaselineSettings {
  const symbols = (env.SYMBOLS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (symbols.length === 0) throw new RangeError('SYMBOLS: the baseline needs the symbols tickplant serves');
  return {
    symbols,
    updatesPerSecond: Number(env.SIM_UPDATES_PER_SECOND ?? 100),
    seed: Number(env.SIM_SEED ?? 1),
    depth: Number(env.BOOK_DEPTH ?? 20),
    port: Number(env.PORT ?? 0),
    tickMs: Number(env.SIM_TICK_MS ?? 10),
  };
}

/** `YYYY-MM-DDTHH:mm:ss.ssssssZ` from fractional milliseconds, as tickplant writes the simulator's time. */
export function isoMicros(ms: number): string {
  const whole = Math.floor(ms);
  const us = Math.round((ms - whole) * 1000);
  const iso = new Date(whole).toISOString();
  return us > 0 && us < 1000 ? `${iso.slice(0, -1)}${String(us).padStart(3, '0')}Z` : iso;
}

const r8 = (x: number) => Math.round(x * 1e8) / 1e8;

/** The frame tickplant would send for this update (metrics as in src/book/metrics.ts, top-of-book based). */
export function toFrame(u: BookUpdate, epoch: number, seq: number): BaselineFrame {
  const bids: number[][] = [];
  const asks: number[][] = [];
  let bidVol = 0;
  let askVol = 0;
  for (let i = 0; i < u.bidCount; i++) {
    bids.push([u.bidPx[i], u.bidSz[i]]);
    bidVol += u.bidSz[i];
  }
  for (let i = 0; i < u.askCount; i++) {
    asks.push([u.askPx[i], u.askSz[i]]);
    askVol += u.askSz[i];
  }
  const bb = u.bidCount > 0 ? u.bidPx[0] : null;
  const ba = u.askCount > 0 ? u.askPx[0] : null;
  const mid = bb !== null && ba !== null ? (bb + ba) / 2 : null;
  const spread = bb !== null && ba !== null ? ba - bb : null;
  const total = bidVol + askVol;
  const micro = bb !== null && ba !== null ? (bb * u.askSz[0] + ba * u.bidSz[0]) / (u.askSz[0] + u.bidSz[0]) : null;
  return {
    type: 'orderbook_update',
    symbol: u.symbol,
    epoch,
    seq,
    timestamp: isoMicros(u.exchangeTs),
    data: {
      best_bid: bb,
      best_ask: ba,
      mid_price: mid,
      spread: spread === null ? null : r8(spread),
      spread_percentage: spread === null || mid === null ? null : r8((spread / mid) * 100),
      bid_volume: r8(bidVol),
      ask_volume: r8(askVol),
      total_volume: r8(total),
      imbalance: total > 0 ? r8((bidVol - askVol) / total) : null,
      microprice: micro === null ? null : r8(micro),
      bid_levels: bids,
      ask_levels: asks,
    },
  };
}

/** Starts the simulator; every update becomes a frame with the next seq of its symbol. */
export function startFeed(s: BaselineSettings, onFrame: (symbolIndex: number, frame: BaselineFrame) => void): SimulatorFeed {
  const feed = new SimulatorFeed({ symbols: s.symbols, updatesPerSecond: s.updatesPerSecond, depth: s.depth, seed: s.seed, tickIntervalMs: s.tickMs });
  const index = new Map(s.symbols.map((sym, i) => [sym, i]));
  const seqs = new Float64Array(s.symbols.length);
  const epoch = Date.now();
  feed.start({
    offer(u) {
      const i = index.get(u.symbol)!;
      onFrame(i, toFrame(u, epoch, ++seqs[i]));
      return true;
    },
    malformed() {},
  });
  return feed;
}

/** Parses `{"action":"subscribe","symbol":…}`; anything else is ignored (returns null). */
export function subscribeSymbol(text: string): string | null {
  try {
    const m = JSON.parse(text) as { action?: unknown; symbol?: unknown };
    return m.action === 'subscribe' && typeof m.symbol === 'string' ? m.symbol : null;
  } catch {
    return null;
  }
}

/** Exits cleanly on SIGTERM/SIGINT (the scenario stops every server that way). */
export function onStop(stop: () => void): void {
  const handler = () => {
    stop();
    process.exit(0);
  };
  process.once('SIGTERM', handler);
  process.once('SIGINT', handler);
}
