// What crosses the boundary of the front actor: its start-up data and its control API.

import type { MessagePort } from 'node:worker_threads';
import type { Config } from '../../config.js';
import type { LatencySummary } from '../../stats/latency.js';
import type { TierStats } from './history-tiers.js';
import type { SymbolRegistration } from '../registry.js';

/** workerData of the front actor. */
export interface FrontInit {
  config: Config;
  frames: SharedArrayBuffer[]; // one shard → front queue per shard, index = shard
  control: MessagePort; // comlink: FrontApi (served by the front)
  supervisor: MessagePort; // comlink: SupervisorApi (served by the supervisor)
  registrations: MessagePort;
  symbols: SymbolRegistration[];
  database?: { url: string; timescale: boolean }; // absent when PERSIST=false
  redisConnections: SharedArrayBuffer; // the node's count of open Redis connections (REDIS_MAX_CONNECTIONS)
  cacheLinks: MessagePort; // the supervisor posts a link (MessagePort) to the cache actor here at each of its (re)starts
}

export interface FrontStats {
  connections: number;
  subscriptions: number;
  pendingSnapshots: number;
  messagesSent: number; // deliveries: one per subscriber per published frame, plus direct sends
  bytesSent: number;
  framesPublished: number;
  tradesPublished: number; // trade frames published on trades:<symbol> topics
  analyticsPublished: number; // candle and ticker frames (or their snapshots after a gap) published
  alertsDelivered: number; // alert frames sent to their users' connections
  publishedPerS: number; // frames published in the last second
  duplicatesDropped: number; // frames re-sent by a restarted shard, or covered by a resync
  statusesPublished: number; // status frames from the shards (resyncing) published to their topic
  unresolvedGaps: number; // gaps with nothing readable to resync from yet (the next frame resyncs)
  resyncs: Record<string, number>; // by reason
  conflations: number; // subscriptions detached because the client fell behind
  backpressureLimitHits: number; // a client reached maxBackpressure: uWS may have skipped it
  errorsSent: Record<string, number>; // by code
  frameQueues: { depthBytes: number; capacityBytes: number }[];
  feedToPublish: LatencySummary;
  staleSymbols: string[];
  resyncingSymbols: string[]; // the feed is rebuilding their book: no updates until it has
  /** Access control: refusals by reason, throttled messages, the active API keys loaded. */
  access: {
    apiKeys: number;
    httpRefused: Record<string, number>; // unauthorized, forbidden, origin, auth_unavailable, timeout (408)
    corsPreflights: number;
    wsRefused: Record<string, number>; // upgrades refused: origin, per_ip, total
    wsClosed: Record<string, number>; // closed: unauthorized, token_expired, flooding
    wsAuthFailures: Record<string, number>; // credentials refused on WebSockets, by code
    wsMessagesThrottled: number; // client messages refused by WS_MESSAGE_RATE
  };
  /** GET /indicators: requests answered by a cached series, series built from scratch, candles folded into cached series; series held and their bytes. */
  indicators: { hits: number; rebuilds: number; folds: number; entries: number; bytes: number };
  historyTiers?: {
    memory: TierStats & { entries: number; bytes: number };
    redis: TierStats;
    database: TierStats;
  };
}

export interface FrontApi {
  stats(): FrontStats;
  /** Resolves once every frame queue is empty. */
  drained(timeoutMs: number): Promise<boolean>;
  /** Ends every connection (1001 going away), closes the listen socket and the snapshot pool. */
  close(): Promise<void>;
}

export type FrontLifecycle = { type: 'ready'; port: number } | { type: 'fatal'; message: string; permanent?: boolean };
