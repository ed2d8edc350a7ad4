// What the supervisor serves to the front actor over its control port: stats and health of the whole node.

import type { FeedActorStats } from '../feed/messages.js';
import type { ShardStats } from '../shard/messages.js';
import type { WriterStats } from '../writer/messages.js';

export interface ComponentHealth {
  status: 'ok' | 'degraded' | 'down';
  detail?: string;
}

/** One feed actor (an exchange entry of FEEDS): its actor's state and, while it answers, its figures. */
export interface FeedActorStatus {
  exchange: string;
  status: string; // starting, running, restarting, stopped, not answering
  restarts: number;
  symbols: string[]; // served names
  stats?: FeedActorStats;
}

export interface SupervisorStats {
  uptimeS: number;
  /** The main thread's feeds (simulator, replay) through the router; `none` when FEEDS names only exchanges. */
  feed: { name: string; offered: number; queueFullDrops: number; tradesOffered: number; tradeQueueFullDrops: number; malformed: number; lastMalformed?: string; own?: Record<string, number> };
  /** The exchange feeds, one actor each. */
  feeds: FeedActorStatus[];
  restarts: number;
  shards: (ShardStats | { index: number; status: string })[];
  writer?: WriterStats;
  /** Redis connections open in this node, all actors (undefined without REDIS_URL). */
  redis?: { connections: number; maxConnections: number };
}

export interface SupervisorApi {
  stats(): Promise<SupervisorStats>;
  health(): Promise<Record<string, ComponentHealth>>;
}
