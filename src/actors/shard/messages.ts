// What crosses the boundary of a shard actor: its start-up data and its control API.

import type { MessagePort } from 'node:worker_threads';
import type { Config } from '../../config.js';
import type { SymbolRegistration } from '../registry.js';

/** workerData of a shard: the only message that carries its shared memory. */
export interface ShardInit {
  index: number;
  config: Config;
  input: SharedArrayBuffer; // feed → shard queue (layout.ts IN_*)
  frames: SharedArrayBuffer; // shard → front queue (layout.ts FR_*)
  rows?: SharedArrayBuffer; // shard → writer queue (raw records, layout.ts R_*); absent when PERSIST=false
  control: MessagePort; // comlink: ShardApi
  registrations: MessagePort; // SymbolRegistration, one message per new symbol
  symbols: SymbolRegistration[]; // this shard's symbols registered before it started
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
  inputQueue: { depthBytes: number; capacityBytes: number };
  frameQueue: { depthBytes: number; capacityBytes: number };
  processing: import('../../stats/latency.js').LatencySummary; // feed → shard done
}

export interface ShardApi {
  stats(): ShardStats;
  /** Resolves once the input queue is empty (used by graceful shutdown). */
  drained(timeoutMs: number): Promise<boolean>;
}

/** Lifecycle messages on the worker's parentPort. */
export type ShardLifecycle = { type: 'ready' } | { type: 'fatal'; message: string; permanent?: boolean };
