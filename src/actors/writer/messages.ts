// What crosses the boundary of the writer actor: start-up data, its control API, its lifecycle.

import type { MessagePort } from 'node:worker_threads';
import type { Config } from '../../config.js';
import type { LatencySummary } from '../../stats/latency.js';
import type { SymbolRegistration } from '../registry.js';

export interface WriterInit {
  config: Config;
  databaseUrl: string; // resolved: DATABASE_URL or the embedded server
  rows: SharedArrayBuffer[]; // one shard → writer queue per shard (raw records, layout.ts R_*; trade records T_*, aux | ROW_TRADE)
  control: MessagePort; // comlink: WriterApi
  registrations: MessagePort;
  symbols: SymbolRegistration[];
  redisConnections: SharedArrayBuffer; // the node's count of open Redis connections (REDIS_MAX_CONNECTIONS)
}

export interface WriterStats {
  database: { status: 'ok' | 'down'; timescale: boolean; lastError?: string };
  redis: { status: 'off' | 'ready' | 'connecting' | 'down'; batches: number; commands: number; skippedBatches: number; errors: number };
  rowsTaken: number; // book rows taken from the shards' queues
  duplicatesSkipped: number; // book rows a restarted shard sent again
  tradesTaken: number; // trade rows taken from the shards' queues
  tradeDuplicatesSkipped: number; // trade rows a restarted shard sent again
  batchesFoundCommitted: number; // batches whose outcome was unknown (connection lost at COMMIT) and were stored
  rowsCommitted: number; // book rows
  tradesCommitted: number; // trade rows of committed batches (tradesAlreadyStored included)
  tradesAlreadyStored: number; // trades the table held already when their batch committed (an exchange's replay)
  batchesCommitted: number;
  batchRetries: number;
  pendingRows: number; // book and trade rows not yet committed, in memory
  journal: { bytes: number; records: number; active: boolean };
  copy: LatencySummary; // COPY + progress + COMMIT per batch
  commitLag: LatencySummary; // feed → committed (visible in PostgreSQL), per batch's newest row
  rowQueues: { depthBytes: number; capacityBytes: number }[];
  /** Who drops rows older than RETENTION: TimescaleDB's policy, or the writer's passes on plain PostgreSQL. */
  retention: { by: 'timescaledb'; retention: string } | { by: 'writer'; retention: string; deletedRows: number; lastPassAt: number };
}

export interface WriterApi {
  stats(): WriterStats;
  /**
   * Resolves once every row queue is empty and every row is committed (true), or when
   * `timeoutMs` passed (false: what is left is in the journal, replayed at next start).
   */
  drained(timeoutMs: number): Promise<boolean>;
  /** Stops taking rows; journals what is still uncommitted (replayed at the next start) and says how much. */
  close(): Promise<{ journaledRows: number }>;
}

export type WriterLifecycle =
  | { type: 'ready'; timescale: boolean; journalPending: boolean; databaseUp: boolean }
  | { type: 'fatal'; message: string; permanent?: boolean };
