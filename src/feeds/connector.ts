// The contract between an exchange connector and what runs it (the feed actor, or a test).
//
// A connector keeps each symbol's whole book as the exchange sends it and, after every exchange
// message that changes it, hands over the top `depth` levels as one KIND_SNAPSHOT BookUpdate: the
// published book then is the exchange's at that moment, whatever was dropped before. While a
// symbol's book is not provably the exchange's (before its first sync, after a gap, a checksum
// mismatch or a reconnect) it is `resyncing`: the connector says so once and hands over nothing
// for it until it is in sync again; the first book after that has `reset` set.

import type { Logger } from '../log.js';
import type { BookUpdate, TradeUpdate } from './types.js';

/** A trade as a connector hands it over (types.ts TradeUpdate): served symbol name, the exchange's trade id, the taker's side. */
export type Trade = TradeUpdate;

export interface ConnectorSink {
  /**
   * The symbol's top-N book (`update.kind` KIND_SNAPSHOT, `update.symbol` the served name) after
   * the exchange update numbered `sourceSeq` (the exchange's update id or sequence; 0 when it
   * has none). `reset`: the first book after a (re)sync. false: the queue was full and the
   * update was not taken (the next one carries the whole top-N book again).
   */
  book(update: BookUpdate, reset: boolean, sourceSeq: number): boolean;
  trade(t: Trade): boolean;
  /** The symbol's book is not known to be the exchange's any more (`reason`: gap, checksum, reconnect, …). */
  resyncing(symbol: string, reason: string): void;
  /** A message that could not be understood; `kind` groups them (logged once per kind by the sink). */
  malformed(kind: string, detail: string): void;
}

export interface ConnectorOptions {
  /** Exchange-native symbols as configured: `BTCUSDT`, `BTC-USD`, `BTC/USD`. */
  symbols: readonly string[];
  /** Levels per side handed over (BOOK_DEPTH). */
  depth: number;
  /** WebSocket base URL (and REST, for Binance). */
  wsUrl: string;
  restUrl?: string;
  log: Logger;
  /** Reconnect backoff: first delay and cap, ms (jittered). */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
}

/** Per connection and per symbol: what /health, /stats and /metrics show of a connector. */
export interface ConnectorStats {
  exchange: string;
  connections: {
    url: string;
    connected: boolean;
    /** ms since the last message; -1 before any. */
    lastMessageAgeMs: number;
    messages: number;
    bytes: number;
    reconnects: number;
  }[];
  symbols: Record<string, {
    /** live: in sync; resyncing: waiting for a correct book. */
    state: 'live' | 'resyncing';
    resyncs: Record<string, number>;
    checksumFailures: number;
    snapshotRequests: number;
    rateLimitWaits: number;
    books: number;
    trades: number;
  }>;
  malformed: Record<string, number>;
}

export interface Connector {
  start(sink: ConnectorSink): void;
  /** Closes every connection; resolves once no sink call will follow. */
  stop(): Promise<void>;
  stats(): ConnectorStats;
}
