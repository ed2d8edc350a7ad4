// What crosses the boundary of a shard actor: its start-up data and its control API.

import type { MessagePort } from 'node:worker_threads';
import type { AlertCounters } from './alert-evaluator.js';
import type { Config } from '../../config.js';
import type { SymbolRegistration } from '../registry.js';

/**
 * One feed → shard queue (layout.ts IN_*). SPSC: one producer thread each, so the supervisor's
 * feeds (simulator, replay) have one and every feed actor one of its own.
 */
export interface ShardInput {
  name: string; // the producer, for stats: `supervisor`, `feed-binance`
  queue: SharedArrayBuffer;
  /** Ids of the symbols fed through this queue; absent: every symbol no other input claims. */
  symbols?: number[];
}

/** workerData of a shard: the only message that carries its shared memory. */
export interface ShardInit {
  index: number;
  config: Config;
  inputs: ShardInput[]; // read round-robin; each symbol comes through exactly one of them
  doorbell: SharedArrayBuffer; // every producer of `inputs` rings it (spsc.ts Doorbell)
  frames: SharedArrayBuffer; // shard → front queue (layout.ts FR_*)
  rows?: SharedArrayBuffer; // shard → writer queue (raw records, layout.ts R_*); absent when PERSIST=false
  control: MessagePort; // comlink: ShardApi
  registrations: MessagePort; // SymbolRegistration, one message per new symbol
  symbols: SymbolRegistration[]; // this shard's symbols registered before it started
  alertCommands?: SharedArrayBuffer; // cache actor → shard: price alerts added and removed (layout.ts AC_*)
  alertFirings?: SharedArrayBuffer; // shard → cache actor: alerts a trade satisfied (layout.ts AF_*)
}

export interface ShardStats {
  index: number;
  symbols: number;
  accepted: number;
  rejected: Record<string, number>;
  skippedReplays: number; // input records already applied before a restart
  frameQueueFull: number; // frames not queued for the front (it resyncs those symbols)
  rowQueueStalls: number; // times the writer's queue was full: the shard waited (rows are never dropped)
  newEpochs: number;
  /** Resyncing records taken (a status frame each), books that carried the reset flag, symbols resyncing now. */
  resyncs: number;
  resets: number;
  resyncingSymbols: number;
  statusQueueFull: number; // resyncing statuses a full frame queue refused at first (owed, queued again while the symbol resyncs)
  statusesOwed: number; // of those, still waiting for room
  /** The trades channel: trades sequenced, damaged records refused, new trade epochs, frames the full frame queue refused. */
  trades: { accepted: number; rejected: number; newEpochs: number; frameQueueFull: number };
  /** Candle and ticker frames published, skipped by a full frame queue; late trades folded into earlier candles, trades too late for any; trades folded again after a restart. */
  alerts: AlertCounters;
  analytics: { published: number; frameQueueFull: number; lateTrades: number; droppedTrades: number; refolded: number; seededSkipped: number };
  inputQueue: { depthBytes: number; capacityBytes: number }; // all inputs together
  inputQueues: { name: string; depthBytes: number; capacityBytes: number }[];
  frameQueue: { depthBytes: number; capacityBytes: number };
  processing: import('../../stats/latency.js').LatencySummary; // feed → shard done
}

export interface ShardApi {
  stats(): ShardStats;
  /** Resolves once every input queue is empty (used by graceful shutdown). */
  drained(timeoutMs: number): Promise<boolean>;
}

/** Lifecycle messages on the worker's parentPort. */
export type ShardLifecycle = { type: 'ready' } | { type: 'fatal'; message: string; permanent?: boolean };
