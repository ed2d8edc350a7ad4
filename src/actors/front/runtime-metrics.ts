// The runtime's figures as Prometheus metrics: WebSocket fan-out, feeds (per exchange and symbol), shards, writer, Redis, latency histograms.
//
// Read from the same stats objects /stats shows, at scrape time (prom-client `collect`), so
// the hot path keeps its plain counters and pays nothing for the exposition.

import { Counter, Gauge, type Metric, type Registry } from 'prom-client';
import type { FrontStats } from './messages.js';
import type { SupervisorStats } from '../supervisor/messages.js';
import type { LatencySummary } from '../../stats/latency.js';

export interface RuntimeSnapshot {
  front: FrontStats;
  supervisor?: SupervisorStats;
}

/**
 * Counters mirrored from monotonically growing stats fields: each scrape adds what grew since
 * the last one (a restarted actor's counter starting again from 0 adds nothing until it passes).
 */
class MirroredCounter {
  private readonly last = new Map<string, number>();
  readonly counter: Counter<string>;
  constructor(registry: Registry, name: string, help: string, labelNames: string[] = []) {
    this.counter = new Counter({ name, help, labelNames, registers: [registry] });
  }
  set(value: number, labels: Record<string, string> = {}): void {
    const key = JSON.stringify(labels);
    const prev = this.last.get(key) ?? 0;
    if (value > prev) this.counter.inc(labels, value - prev);
    this.last.set(key, Math.max(prev, value));
  }
}

/**
 * Registers the runtime's metrics on `registry`. Call the returned `refresh()` before each
 * `registry.metrics()`: prom-client runs collectors concurrently, so the one asynchronous stats
 * read happens first and every collector then reads the same snapshot.
 */
export function registerRuntimeMetrics(registry: Registry, read: () => Promise<RuntimeSnapshot>): { refresh(): Promise<void> } {
  const c = (name: string, help: string, labels: string[] = []) => new MirroredCounter(registry, `tickplant_${name}`, help, labels);
  const messages = c('ws_messages_sent_total', 'WebSocket messages delivered: one per subscriber per published frame, plus direct sends');
  const bytes = c('ws_sent_bytes_total', 'WebSocket bytes delivered');
  const frames = c('frames_published_total', 'Update frames published to their symbol topic (each encoded once)');
  const resyncs = c('ws_resyncs_total', 'Resync frames delivered, by reason', ['reason']);
  const conflations = c('ws_conflations_total', 'Subscriptions conflated because the client fell behind');
  const errors = c('ws_errors_sent_total', 'Error frames sent to clients, by code', ['code']);
  const offered = c('feed_updates_total', 'Updates offered by the feed');
  const drops = c('feed_queue_full_drops_total', 'Feed updates dropped because a shard input queue was full');
  const accepted = c('shard_updates_accepted_total', 'Updates accepted by the shards', ['shard']);
  const tradesAccepted = c('shard_trades_accepted_total', 'Trades sequenced by the shards (each channel trades:<symbol> has its own seq)', ['shard']);
  const tradesPublished = c('trades_published_total', 'Trade frames published to their symbol\'s trades topic (each encoded once)');
  const tradesCommitted = c('writer_trades_committed_total', 'Trade rows of committed batches (a trade the table already held is stored once)');
  const rowStalls = c('shard_row_queue_stalls_total', 'Times a shard found the writer\'s row queue full and waited (rows are never dropped)', ['shard']);
  const rejected = c('shard_updates_rejected_total', 'Updates rejected by validation, by reason', ['reason']);
  const committed = c('writer_rows_committed_total', 'Rows committed to PostgreSQL');
  const batchRetries = c('writer_batch_retries_total', 'Failed commits of a batch, each retried with backoff while its rows are held');
  const redisCommands = c('writer_redis_commands_total', 'Redis commands sent by the writer pipelines');
  const restarts = c('actor_restarts_total', 'Actor restarts by the supervisor');
  const httpRefused = c('http_refused_total', 'HTTP requests refused before their route, by reason (unauthorized, forbidden, origin, auth_unavailable, timeout)', ['reason']);
  const preflights = c('http_cors_preflights_total', 'CORS preflight (OPTIONS) requests answered');
  const wsRefused = c('ws_refused_total', 'WebSocket upgrades refused, by reason (origin, per_ip, total)', ['reason']);
  const wsClosed = c('ws_access_closed_total', 'WebSocket connections closed by access control, by reason (unauthorized, token_expired, flooding)', ['reason']);
  const wsAuthFailures = c('ws_auth_failures_total', 'Credentials refused on WebSocket connections, by code', ['code']);
  const throttled = c('ws_messages_throttled_total', 'Client messages refused by the per-connection rate limit (WS_MESSAGE_RATE)');
  // Exchange feeds (FEEDS): connections are labelled by index (a Binance stream URL runs to kilobytes).
  const conn = ['exchange', 'connection'];
  const sym = ['exchange', 'symbol'];
  const exMessages = c('exchange_messages_total', 'Messages received from the exchange, per connection', conn);
  const exBytes = c('exchange_received_bytes_total', 'Bytes received from the exchange, per connection', conn);
  const exReconnects = c('exchange_reconnects_total', 'Reconnections to the exchange, per connection', conn);
  const exResyncs = c('exchange_resyncs_total', 'Times a symbol\'s book had to be rebuilt, by reason (gap, checksum, reconnect, …)', [...sym, 'reason']);
  const exChecksum = c('exchange_checksum_failures_total', 'Book checksum mismatches', sym);
  const exSnapshots = c('exchange_snapshot_requests_total', 'Book snapshots requested from the exchange', sym);
  const exRateWaits = c('exchange_rate_limit_waits_total', 'Waits imposed by the exchange\'s rate limits', sym);
  const exBooks = c('exchange_books_total', 'Books handed over by the connector', sym);
  const exTrades = c('exchange_trades_total', 'Trades handed over by the connector', sym);
  const exDrops = c('exchange_queue_full_drops_total', 'Books refused because the shard\'s input queue was full', ['exchange']);
  const exTradesQueued = c('exchange_trades_queued_total', 'Trades queued for the shards by the feed actor', ['exchange']);
  const exTradesDropped = c('exchange_trades_dropped_total', 'Trades lost: the shard\'s input queue and the feed actor\'s trade backlog were full', ['exchange']);
  const exMalformed = c('exchange_malformed_total', 'Exchange messages that could not be understood, by kind', ['exchange', 'kind']);
  const exRestarts = c('exchange_feed_restarts_total', 'Restarts of the feed actor', ['exchange']);

  let current: RuntimeSnapshot | undefined;
  const g = (name: string, help: string, labelNames: string[] = [], collect?: (this: Gauge<string>) => void | Promise<void>) =>
    new Gauge({ name: `tickplant_${name}`, help, labelNames, registers: [registry], collect });

  const mirror = (snap: RuntimeSnapshot) => {
    const f = snap.front;
    messages.set(f.messagesSent);
    bytes.set(f.bytesSent);
    frames.set(f.framesPublished);
    tradesPublished.set(f.tradesPublished);
    conflations.set(f.conflations);
    for (const [reason, n] of Object.entries(f.resyncs)) resyncs.set(n, { reason });
    for (const [code, n] of Object.entries(f.errorsSent)) errors.set(n, { code });
    for (const [reason, n] of Object.entries(f.access.httpRefused)) httpRefused.set(n, { reason });
    preflights.set(f.access.corsPreflights);
    for (const [reason, n] of Object.entries(f.access.wsRefused)) wsRefused.set(n, { reason });
    for (const [reason, n] of Object.entries(f.access.wsClosed)) wsClosed.set(n, { reason });
    for (const [code, n] of Object.entries(f.access.wsAuthFailures)) wsAuthFailures.set(n, { code });
    throttled.set(f.access.wsMessagesThrottled);
    const s = snap.supervisor;
    if (!s) return;
    offered.set(s.feed.offered);
    drops.set(s.feed.queueFullDrops);
    restarts.set(s.restarts);
    const byReason = new Map<string, number>();
    for (const sh of s.shards) {
      if (!('accepted' in sh)) continue;
      accepted.set(sh.accepted, { shard: String(sh.index) });
      tradesAccepted.set(sh.trades.accepted, { shard: String(sh.index) });
      rowStalls.set(sh.rowQueueStalls, { shard: String(sh.index) });
      for (const [reason, n] of Object.entries(sh.rejected)) byReason.set(reason, (byReason.get(reason) ?? 0) + n);
    }
    for (const [reason, n] of byReason) rejected.set(n, { reason });
    for (const f of s.feeds ?? []) {
      const exchange = f.exchange;
      exRestarts.set(f.restarts, { exchange });
      if (!f.stats) continue;
      exDrops.set(f.stats.queueFullDrops, { exchange });
      exTradesQueued.set(f.stats.tradesQueued, { exchange });
      exTradesDropped.set(f.stats.tradesDropped, { exchange });
      for (const [kind, n] of Object.entries(f.stats.malformed)) exMalformed.set(n, { exchange, kind });
      f.stats.connector.connections.forEach((k, i) => {
        const l = { exchange, connection: String(i) };
        exMessages.set(k.messages, l);
        exBytes.set(k.bytes, l);
        exReconnects.set(k.reconnects, l);
      });
      for (const [symbol, x] of Object.entries(f.stats.connector.symbols)) {
        const l = { exchange, symbol };
        for (const [reason, n] of Object.entries(x.resyncs)) exResyncs.set(n, { ...l, reason });
        exChecksum.set(x.checksumFailures, l);
        exSnapshots.set(x.snapshotRequests, l);
        exRateWaits.set(x.rateLimitWaits, l);
        exBooks.set(x.books, l);
        exTrades.set(x.trades, l);
      }
    }
    if (s.writer) {
      committed.set(s.writer.rowsCommitted);
      batchRetries.set(s.writer.batchRetries);
      tradesCommitted.set(s.writer.tradesCommitted);
      redisCommands.set(s.writer.redis.commands);
    }
  };
  g('ws_connections', 'Open WebSocket connections', [], function () {
    if (current) this.set(current.front.connections);
  });
  g('ws_subscriptions', 'Live symbol subscriptions over all connections', [], function () {
    if (current) this.set(current.front.subscriptions);
  });
  g('api_keys_active', 'Active API keys loaded by the front', [], function () {
    if (current) this.set(current.front.access.apiKeys);
  });
  g('symbols_stale', 'Symbols whose feed has been silent longer than STALE_AFTER_MS', [], function () {
    if (current) this.set(current.front.staleSymbols.length);
  });
  g('symbols_resyncing', 'Symbols whose exchange book is being rebuilt (no updates meanwhile)', [], function () {
    if (current) this.set(current.front.resyncingSymbols?.length ?? 0);
  });
  // Gauges of feeds are rebuilt at each scrape: a connection or actor that is gone must not linger.
  g('exchange_feed_up', '1 while the exchange\'s feed actor runs and answers', ['exchange'], function () {
    this.reset();
    for (const f of current?.supervisor?.feeds ?? []) this.set({ exchange: f.exchange }, f.stats ? 1 : 0);
  });
  g('exchange_trades_pending', 'Trades waiting in the feed actor\'s backlog for room in a shard\'s input queue', ['exchange'], function () {
    this.reset();
    for (const f of current?.supervisor?.feeds ?? []) if (f.stats) this.set({ exchange: f.exchange }, f.stats.tradesPending);
  });
  g('exchange_connected', '1 while the connection to the exchange is open', ['exchange', 'connection'], function () {
    this.reset();
    for (const f of current?.supervisor?.feeds ?? []) {
      f.stats?.connector.connections.forEach((k, i) => this.set({ exchange: f.exchange, connection: String(i) }, k.connected ? 1 : 0));
    }
  });
  g('exchange_last_message_age_seconds', 'Seconds since the connection\'s last message (absent before the first)', ['exchange', 'connection'], function () {
    this.reset();
    for (const f of current?.supervisor?.feeds ?? []) {
      f.stats?.connector.connections.forEach((k, i) => {
        if (k.lastMessageAgeMs >= 0) this.set({ exchange: f.exchange, connection: String(i) }, k.lastMessageAgeMs / 1000);
      });
    }
  });
  g('exchange_symbol_resyncing', '1 while the symbol\'s book is being rebuilt', ['exchange', 'symbol'], function () {
    this.reset();
    for (const f of current?.supervisor?.feeds ?? []) {
      for (const [symbol, x] of Object.entries(f.stats?.connector.symbols ?? {})) this.set({ exchange: f.exchange, symbol }, x.state === 'resyncing' ? 1 : 0);
    }
  });
  g('frame_queue_depth_bytes', 'Bytes waiting in each shard → front frame queue', ['shard'], function () {
    current?.front.frameQueues.forEach((q, i) => this.set({ shard: String(i) }, q.depthBytes));
  });
  g('writer_pending_rows', 'Rows closed into batches and not yet committed', [], function () {
    if (current?.supervisor?.writer) this.set(current.supervisor.writer.pendingRows);
  });
  g('writer_journal_bytes', 'Bytes of rows spilled to the writer journal while PostgreSQL is slow or away', [], function () {
    if (current?.supervisor?.writer) this.set(current.supervisor.writer.journal.bytes);
  });
  g('writer_journal_records', 'Records (batches of rows) in the writer journal, waiting to be replayed into PostgreSQL', [], function () {
    if (current?.supervisor?.writer) this.set(current.supervisor.writer.journal.records);
  });
  // A full row queue makes its shard wait (rows are never dropped): depth near capacity is the writer's backlog reaching ingest.
  g('writer_row_queue_depth_bytes', 'Bytes waiting in each shard → writer row queue', ['shard'], function () {
    current?.supervisor?.writer?.rowQueues.forEach((q, i) => this.set({ shard: String(i) }, q.depthBytes));
  });
  g('writer_row_queue_capacity_bytes', 'Capacity of each shard → writer row queue', ['shard'], function () {
    current?.supervisor?.writer?.rowQueues.forEach((q, i) => this.set({ shard: String(i) }, q.capacityBytes));
  });
  g('database_up', '1 when the writer can commit to PostgreSQL', [], function () {
    if (current?.supervisor?.writer) this.set(current.supervisor.writer.database.status === 'ok' ? 1 : 0);
  });
  g('writer_redis_up', '1 when the writer pipelines reach Redis (absent when Redis is off)', [], function () {
    const r = current?.supervisor?.writer?.redis;
    if (r && r.status !== 'off') this.set(r.status === 'ready' ? 1 : 0);
  });
  snapshotHistogram(registry, 'tickplant_feed_to_publish_seconds', 'Feed → front publish latency (HDR histogram since the front started)', () => current?.front.feedToPublish);
  snapshotHistogram(registry, 'tickplant_writer_commit_lag_seconds', 'Feed → committed in PostgreSQL latency, per batch (since the writer started)', () => current?.supervisor?.writer?.commitLag);
  return {
    async refresh() {
      current = await read();
      mirror(current);
    },
  };
}

/**
 * A histogram read from a LatencySummary's cumulative buckets (an actor's HDR histogram) at
 * scrape time. prom-client's Histogram counts only what it observes itself and cannot be set
 * from counts, so this is a metric object of its own: the registry needs only name, help, type,
 * aggregator, get() and reset() (lib/registry.js), and get() answers the lines prom-client's
 * Histogram writes — `_bucket{le}` cumulative up to `+Inf` (= `_count`), `_sum`, `_count` —
 * in seconds.
 */
function snapshotHistogram(registry: Registry, name: string, help: string, read: () => LatencySummary | undefined): void {
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get() {
      const s = read();
      const b = s?.buckets;
      const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
      if (s && b) {
        b.le_ms.forEach((le, i) => values.push({ metricName: `${name}_bucket`, labels: { le: le / 1000 }, value: b.counts[i] }));
        values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: s.count });
        values.push({ metricName: `${name}_sum`, labels: {}, value: Math.round(b.sum_ms * 1000) / 1e6 }); // whole µs: one division, no float noise
        values.push({ metricName: `${name}_count`, labels: {}, value: s.count });
      }
      return Promise.resolve({ name, help, type: 'histogram', aggregator: 'sum', values });
    },
    reset() {
      // Nothing kept here: the counts live in the actor's recorder.
    },
  };
  registry.registerMetric(metric as unknown as Metric);
}
