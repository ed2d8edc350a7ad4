// The supervisor's feed sink: names symbols, owns their shared stores, routes updates to shards by hash.
//
// It is the producer of one input queue per shard (the main thread's: simulator, replay).
// Exchange symbols are registered here too (ids, stores, shards) but fed by their feed actor
// through its own queues: an update for one of them offered here is refused, so that every
// symbol reaches its shard through exactly one queue. Trades travel the same way, in the same
// queue as their symbol's books.

import type { Config } from '../../config.js';
import { tradeProblem, writeInputRecord, writeTradeRecord } from '../../feeds/encode-input.js';
import type { BookUpdate, FeedSink, TradeUpdate } from '../../feeds/types.js';
import type { Logger } from '../../log.js';
import { inputRecordBytes } from '../../ring/layout.js';
import { Doorbell, QueueProducer } from '../../ring/spsc.js';
import { SymbolStore, createStoreBuffer } from '../../ring/symbol-store.js';
import { createTradeBuffer } from '../../ring/trade-store.js';
import { AnalyticsStore, createAnalyticsBuffer } from '../../ring/analytics-store.js';
import { type CandleSeed, seedAnalyticsStore } from '../../store/candle-seeds.js';
import { type SymbolSeed, seedStore } from '../../store/continuation.js';
import { nowMs } from '../../stats/latency.js';
import type { SymbolRegistration } from '../registry.js';

const SYMBOL_NAME = /^[A-Za-z0-9._:/-]{1,32}$/;

/**
 * FNV-1a over the name's UTF-16 code units, then murmur3's finalizer: stable across runs, so a
 * symbol keeps its shard. Without the finalizer FNV's low bits are poorly mixed (its lowest bit
 * is the parity of the characters), and `% 2` put US.AAPL, US.MSFT, BTC-USD and ETH-USD together.
 */
export function shardOf(name: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % shards;
}

export interface RouterCounters {
  offered: number;
  queueFullDrops: number;
  /** Trades queued for the shards. */
  tradesOffered: number;
  /** Trades refused because the shard's queue was full (the feed decides whether to retry). */
  tradeQueueFullDrops: number;
  malformed: number;
  lastMalformed?: string;
}

export class Router implements FeedSink {
  readonly registrations: SymbolRegistration[] = [];
  private readonly byName = new Map<string, SymbolRegistration>();
  private readonly inputs: QueueProducer[];
  /** By symbol id: fed by a feed actor, not through this router. */
  private readonly external: boolean[] = [];
  readonly counters: RouterCounters = { offered: 0, queueFullDrops: 0, tradesOffered: 0, tradeQueueFullDrops: 0, malformed: 0 };
  /** Called for every new symbol, before its first update is queued. */
  onRegister: (r: SymbolRegistration) => void = () => {};
  /** Stored sequences to continue (after a restart), by symbol. */
  seeds = new Map<string, SymbolSeed>();
  /** Stored candles to continue (after a restart), by symbol. */
  candleSeeds = new Map<string, CandleSeed>();
  seeded = 0;

  /** `inputs[i]`: shard i's queue from this thread; `doorbells[i]`: the bell shard i sleeps on. */
  constructor(private readonly cfg: Config, inputs: SharedArrayBuffer[], doorbells: SharedArrayBuffer[], private readonly log: Logger) {
    this.inputs = inputs.map((sab, i) => new QueueProducer(sab, new Doorbell(doorbells[i])));
  }

  /**
   * Registers a symbol (idempotent); undefined when the name is invalid or the table is full.
   * `external`: a feed actor feeds it (offer() refuses it from then on).
   */
  register(name: string, external = false): SymbolRegistration | undefined {
    const known = this.byName.get(name);
    if (known) {
      if (external) this.external[known.id] = true;
      return known;
    }
    if (!SYMBOL_NAME.test(name)) {
      this.malformed(`symbol ${JSON.stringify(name.slice(0, 40))}: expected 1-32 characters of [A-Za-z0-9._:/-]`);
      return undefined;
    }
    if (this.registrations.length >= this.cfg.maxSymbols) {
      this.malformed(`symbol ${name}: MAX_SYMBOLS (${this.cfg.maxSymbols}) reached`);
      return undefined;
    }
    const geometry = { depth: this.cfg.depth, rawCapacity: this.cfg.rawCapacity, historyCapacity: this.cfg.historyCapacity };
    const r: SymbolRegistration = {
      id: this.registrations.length, name, shard: shardOf(name, this.cfg.shards), store: createStoreBuffer(geometry),
      trades: createTradeBuffer(this.cfg.tradeCapacity), analytics: createAnalyticsBuffer(this.cfg.candleCapacity), registeredAtMs: Date.now(),
    };
    const seed = this.seeds.get(name);
    if (seed) {
      seedStore(new SymbolStore(r.store, geometry), seed, this.cfg.depth); // continue its stored sequence
      r.seeded = { epoch: seed.epoch, seq: seed.lastSeq };
      this.seeded++;
    }
    const candles = this.candleSeeds.get(name);
    if (candles) seedAnalyticsStore(new AnalyticsStore(r.analytics), candles);
    this.registrations.push(r);
    this.byName.set(name, r);
    this.external[r.id] = external;
    // Announce before the first update is queued: consumers that meet the id can then
    // always find the registration in their port (RegistrationInbox.drainSync).
    this.onRegister(r);
    return r;
  }

  offer(u: BookUpdate): boolean {
    const r = this.byName.get(u.symbol) ?? this.register(u.symbol);
    if (r === undefined) return true; // consumed: counted as malformed
    if (this.external[r.id]) {
      this.malformed(`symbol ${r.name} is fed by its exchange feed (FEEDS), not by this one`);
      return true;
    }
    const q = this.inputs[r.shard];
    const bytes = inputRecordBytes(u.bidCount, u.askCount);
    const at = q.reserve(bytes);
    if (at < 0) {
      // The shard is behind (or restarting): refuse rather than queue without bound.
      this.counters.queueFullDrops++;
      return false;
    }
    writeInputRecord(u, r.id, nowMs(), q.f64, q.u32, at >> 3);
    q.commit(bytes, r.id);
    this.counters.offered++;
    return true;
  }

  trade(t: TradeUpdate): boolean {
    const r = this.byName.get(t.symbol) ?? this.register(t.symbol);
    if (r === undefined) return true; // consumed: counted as malformed
    if (this.external[r.id]) {
      this.malformed(`symbol ${r.name} is fed by its exchange feed (FEEDS), not by this one`);
      return true;
    }
    const problem = tradeProblem(t);
    if (problem !== undefined) {
      this.malformed(`symbol ${r.name}: ${problem}`);
      return true;
    }
    if (!writeTradeRecord(this.inputs[r.shard], t, r.id, nowMs())) {
      this.counters.tradeQueueFullDrops++;
      return false;
    }
    this.counters.tradesOffered++;
    return true;
  }

  malformed(reason: string): void {
    this.counters.malformed++;
    if (this.counters.malformed <= 10 || this.counters.malformed % 10_000 === 0) {
      this.log.warn(`malformed feed input (${this.counters.malformed} so far)`, { reason });
    }
    this.counters.lastMalformed = reason;
  }
}
