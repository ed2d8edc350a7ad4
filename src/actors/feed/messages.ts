// What crosses the boundary of a feed actor: its start-up data and its control API.

import type { MessagePort } from 'node:worker_threads';
import type { Config } from '../../config.js';
import type { ConnectorStats } from '../../feeds/connector.js';

/** One symbol the actor's connector serves, as the supervisor registered it. */
export interface FeedSymbol {
  native: string; // as configured: `BTC/USD`
  served: string; // `KRAKEN.BTC-USD`: what the connector hands over in BookUpdate.symbol
  id: number;
  shard: number;
}

/** workerData of a feed actor: the only message that carries its shared memory. */
export interface FeedInit {
  config: Config;
  exchange: string;
  /** The connector: `factory` exported by the module at this URL (feeds/exchanges.ts). */
  module: string;
  factory: string;
  /** Connector options from the configuration (endpoints …), merged over symbols, depth and log. */
  options: Record<string, unknown>;
  symbols: FeedSymbol[];
  /** Its own input queue of each shard that has one of its symbols (index = shard), SPSC: it is the only producer. */
  inputs: (SharedArrayBuffer | null)[];
  /** Each shard's doorbell (index = shard), rung after a commit. */
  doorbells: SharedArrayBuffer[];
  control: MessagePort; // comlink: FeedApi
  /** Symbol ids whose `feed_restarted` status the previous actor's death left unqueued (a full queue): this actor queues them first. */
  owedResyncing?: number[];
}

export interface FeedActorStats {
  exchange: string;
  connector: ConnectorStats;
  /** Books queued for the shards (reset ones counted again in `resets`). */
  books: number;
  resets: number;
  /** Books refused because the shard's queue was full (the connector's next book carries the whole book again). */
  queueFullDrops: number;
  /** Resyncing statuses queued for the shards. */
  resyncing: number;
  /** Trades handed over by the connector: each is then queued, pending, dropped, malformed or of an unknown symbol. */
  trades: number;
  /** Trades queued for the shards (at once, or later from the backlog). */
  tradesQueued: number;
  /** Trades a full queue refused, waiting in the actor's backlog for the retry (at most TRADE_BACKLOG). */
  tradesPending: number;
  /** Trades lost: refused by a full queue while the backlog was full. */
  tradesDropped: number;
  /** Trades refused as they are (id, price, size or side the record cannot carry); also in `malformed.trade`. */
  malformedTrades: number;
  /** Sink calls naming a symbol this actor was not given (a connector bug). */
  unknownSymbols: number;
  malformed: Record<string, number>;
  /** Served name → ms the symbol has been resyncing (absent: live). */
  resyncingForMs: Record<string, number>;
}

export interface FeedApi {
  stats(): FeedActorStats;
  /** Stops the connector: once it resolves, nothing more is queued. */
  close(): Promise<void>;
}

export type FeedLifecycle = { type: 'ready' } | { type: 'fatal'; message: string; permanent?: boolean };
