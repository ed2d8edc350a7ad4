// What crosses the boundary of the cache actor: its start-up data, its control API, and the front ↔ cache link protocol.

import type { MessagePort } from 'node:worker_threads';
import type { Identity } from '../../auth/identity.js';
import type { Config } from '../../config.js';
import type { CacheHealth } from '../../cache/types.js';
import type { HttpReply } from '../../protocol/http.js';
import type { SymbolRegistration } from '../registry.js';
import type { ComponentHealth } from '../supervisor/messages.js';

/** workerData of the cache actor. */
export interface CacheInit {
  config: Config;
  /** The cache's PostgreSQL (the runtime's database); absent when PERSIST=false. */
  databaseUrl?: string;
  control: MessagePort; // comlink: CacheApi
  /** The supervisor posts one MessagePort here per front (re)start: a link to serve. */
  links: MessagePort;
  registrations: MessagePort;
  symbols: SymbolRegistration[];
  redisConnections: SharedArrayBuffer;
  /** Per shard: the price-alert command and firing queues (absent with ANALYTICS=false or without PostgreSQL). */
  alertQueues?: { commands: SharedArrayBuffer; firings: SharedArrayBuffer }[];
}

export interface CacheApi {
  /** Without I/O: connected or not, and the last known state of Redis. */
  status(): ComponentHealth;
  /** Flushes write-behind writes, closes Redis and PostgreSQL, stops serving its links. */
  close(): Promise<void>;
  /** A restarted shard lost its price alerts: every active one of its symbols is sent to it again. */
  resendAlerts(shard: number): Promise<void>;
}

export type CacheLifecycle = { type: 'ready' } | { type: 'fatal'; message: string; permanent?: boolean };

/** An HTTP request as it crosses to the cache actor (structured-clone friendly). */
export interface WireRequest {
  method: string;
  url: string;
  query: string;
  headers: [string, string][];
  remoteAddress: string;
  body: Uint8Array;
  /** Who the front verified the request to act as. */
  identity?: Identity;
}

/** front → cache, on a link. `id` pairs the reply with its request. */
export type LinkRequest =
  | { id: number; kind: 'http'; req: WireRequest }
  | { id: number; kind: 'metrics' }
  | { id: number; kind: 'health' };

/** cache → front, on a link: replies, and `alert` frames to deliver to a user's connections (id 0, unasked). */
export type LinkReply =
  | { id: number; kind: 'http'; reply: HttpReply }
  | { id: 0; kind: 'alert'; user: string; frame: string }
  | { id: number; kind: 'metrics'; text: string }
  | { id: number; kind: 'health'; health?: CacheHealth; error?: string };
