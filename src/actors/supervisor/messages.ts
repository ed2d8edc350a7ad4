// What the supervisor serves to the front actor over its control port: stats and health of the whole node.

import type { ShardStats } from '../shard/messages.js';
import type { WriterStats } from '../writer/messages.js';

export interface ComponentHealth {
  status: 'ok' | 'degraded' | 'down';
  detail?: string;
}

export interface SupervisorStats {
  uptimeS: number;
  feed: { name: string; offered: number; queueFullDrops: number; malformed: number; lastMalformed?: string; own?: Record<string, number> };
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
