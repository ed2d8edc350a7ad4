// The one typed configuration of tickplant: schema with defaults, read from config/ and env, frozen.
//
// Precedence: defaults < JSON file (TICKPLANT_CONFIG, else config/tickplant.json if present)
// < environment variables (ENV_NAMES below). Only this file reads process.env for settings;
// everything else receives a frozen Config.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { type Namespace, loadNamespaces } from './cache/namespaces.js';
import { MAIN_THREAD_FEEDS, exchangeDefinition, exchangeNames } from './feeds/exchanges.js';

/** A cache namespace as configured, TTL overrides from the environment already applied. */
export type NamespaceDefinition = Omit<Namespace, 'keys' | 'ttlEnv'>;

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const pow2 = (min: number, max: number) =>
  int(min, max).refine((n) => (n & (n - 1)) === 0, { message: 'must be a power of two' });
const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0'])]).transform((v) => v === true || v === 'true' || v === '1');
const SYMBOL_NAME = /^[A-Za-z0-9._:/-]{1,32}$/;
const symbolList = z
  .union([z.array(z.string()), z.string().transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))])
  .pipe(z.array(z.string().regex(SYMBOL_NAME, 'symbols are 1-32 characters of [A-Za-z0-9._:/-]')).min(1).max(10_000));
const endpoint = (protocols: string[], example: string) => z.string().refine((u) => {
  try {
    return protocols.includes(new URL(u).protocol);
  } catch {
    return false;
  }
}, { message: `expected a ${protocols.map((p) => p.slice(0, -1)).join(' or ')} URL such as ${example}` });
const wsUrl = (example: string) => endpoint(['ws:', 'wss:'], example);

/** A browser origin (`https://host[:port]`), or `*` for any. */
const ORIGIN_ERROR = 'expected origins such as https://app.example.com or http://localhost:3000, comma-separated, or *';
const originList = z
  .union([z.array(z.string()), z.string().transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))])
  .pipe(z.array(z.string().refine((o) => o === '*' || isOrigin(o), { message: ORIGIN_ERROR })).max(1000));

function isOrigin(o: string): boolean {
  try {
    const u = new URL(o);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === o;
  } catch {
    return false;
  }
}

/** Every option, its environment variable, default and meaning. The README's table mirrors this. */
export const configSchema = z.strictObject({
  host: z.string().default('0.0.0.0'), // HOST: interface the front actor listens on
  port: int(0, 65535).default(8000), // WEBSOCKET_PORT: HTTP + WebSocket port (0: any free port)
  // zod does not validate defaults: clamp this one to the schema's own range.
  shards: int(1, 64).default(Math.min(64, Math.max(1, availableParallelism() - 1))), // SHARDS: shard actors
  depth: int(1, 200).default(20), // BOOK_DEPTH: levels kept per side
  rawCapacity: pow2(64, 1 << 20).default(16_384), // RAW_RING_CAPACITY: raw updates kept per symbol (resume window)
  tradeCapacity: pow2(64, 1 << 20).default(1024), // TRADE_RING_CAPACITY: recent trades kept per symbol (trades resume window, GET /trades)
  tradesOnSubscribe: int(0, 1000).default(50), // TRADES_ON_SUBSCRIBE: recent trades a trades subscription starts with
  analytics: bool.default(true), // ANALYTICS: candles, 24 h tickers and price alerts in the shards (off: trades and books only)
  alertWebhookSecret: z.string().min(16).optional(), // ALERT_WEBHOOK_SECRET: HMAC-SHA256 key of webhook signatures (webhooks are refused without it)
  alertRecheckMs: int(0, 86_400_000).default(3_600_000), // ALERT_RECHECK_MS: at start, active alerts are checked against the stored trades of this long before
  candleCapacity: pow2(2048, 1 << 16).default(2048), // CANDLE_RING_CAPACITY: candles kept in memory per symbol and interval
  candlePublishMs: int(10, 60_000).default(250), // CANDLE_PUBLISH_MS: an open candle (and the ticker) is published at most this often while it changes
  candleCloseGraceMs: int(0, 60_000).default(1000), // CANDLE_CLOSE_GRACE_MS: a candle without a later trade closes this long after its bucket ends
  historyResolutionMs: int(100, 3_600_000).default(1000), // HISTORY_RESOLUTION_MS: one history point per this
  historyCapacity: pow2(64, 1 << 22).optional(), // HISTORY_RING_CAPACITY: points per symbol (default: ≥ 36 h)
  inputQueueBytes: pow2(1 << 16, 1 << 30).default(1 << 22), // INPUT_QUEUE_BYTES: feed → shard queue, per shard
  frameQueueBytes: pow2(1 << 16, 1 << 30).default(1 << 23), // FRAME_QUEUE_BYTES: shard → front queue, per shard
  feed: z.enum(['simulator', 'replay']).default('simulator'), // FEED
  symbols: symbolList.optional(), // SYMBOLS: comma-separated (default: 20 simulator symbols)
  // Parsed by parseFeeds below into FeedEntry[]; unset: FEED and SYMBOLS as they were.
  feeds: z.string().optional(), // FEEDS: `binance:BTCUSDT,ETHUSDT;coinbase:BTC-USD;kraken:BTC/USD;simulator[:A,B];replay:<file>`
  binanceWsUrl: wsUrl('wss://stream.binance.com:9443').default('wss://stream.binance.com:9443'), // BINANCE_WS_URL
  binanceRestUrl: endpoint(['http:', 'https:'], 'https://api.binance.com').default('https://api.binance.com'), // BINANCE_REST_URL: depth snapshots
  // Binance closes a connection at 24 h: the connector opens its successor before that.
  binanceRotateMs: int(100, 86_400_000).default(23 * 3600_000 + 50 * 60_000), // BINANCE_ROTATE_MS
  coinbaseWsUrl: wsUrl('wss://advanced-trade-ws.coinbase.com').default('wss://advanced-trade-ws.coinbase.com'), // COINBASE_WS_URL
  krakenWsUrl: wsUrl('wss://ws.kraken.com/v2').default('wss://ws.kraken.com/v2'), // KRAKEN_WS_URL
  maxSymbols: int(1, 100_000).default(1024), // MAX_SYMBOLS: symbols served; each has its own shared store
  simUpdatesPerSecond: z.coerce.number().min(0.1).max(1_000_000).default(100), // SIM_UPDATES_PER_SECOND: per symbol
  simSeed: int(0, 2 ** 31 - 1).optional(), // SIM_SEED: reproducible simulator runs
  simTickMs: int(1, 1000).default(10), // SIM_TICK_MS: the simulator generates each tick's updates together
  simTradesPerUpdate: z.coerce.number().min(0).max(1).default(0.25), // SIM_TRADES_PER_UPDATE: chance of a trade after each simulated book (0: none)
  replayFile: z.string().optional(), // REPLAY_FILE: NDJSON order-book updates (FEED=replay)
  replaySpeed: z.coerce.number().min(0).max(1e6).default(1), // REPLAY_SPEED: 1 recorded pace, 0 as fast as possible
  staleAfterMs: int(100, 86_400_000).default(5000), // STALE_AFTER_MS: a symbol silent this long is stale
  // A safety net only: the front detaches lagging clients far below it (WS_CONFLATE_BYTES,
  // swept every 4× that published); uWS skips frames silently above it.
  wsMaxBackpressure: int(1 << 16, 1 << 30).default(1 << 26), // WS_MAX_BACKPRESSURE: uWS hard ceiling per connection
  wsConflateBytes: int(1 << 12, 1 << 28).default(1 << 20), // WS_CONFLATE_BYTES: backlog that conflates a client
  wsMaxMessageBytes: int(64, 1 << 20).default(4096), // WS_MAX_MESSAGE_BYTES: larger client messages get an error frame
  wsMaxSubscriptions: int(1, 100_000).default(500), // WS_MAX_SUBSCRIPTIONS: per connection
  wsIdleTimeoutS: int(0, 960).default(120), // WS_IDLE_TIMEOUT_S: 0 disables
  snapshotThreads: int(1, 16).default(1), // SNAPSHOT_THREADS: piscina threads building history payloads
  marketTimeZone: z.string().default('UTC'), // MARKET_TIMEZONE: "today" starts at 00:00 here
  restartBackoffMs: int(10, 60_000).default(200), // RESTART_BACKOFF_MS: first restart delay, doubling
  restartBackoffMaxMs: int(10, 600_000).default(5000), // RESTART_BACKOFF_MAX_MS
  maxStartFailures: int(1, 100).default(5), // MAX_START_FAILURES: consecutive failed starts that stop the process
  persist: bool.default(true), // PERSIST: write every accepted update to PostgreSQL (and Redis when set)
  databaseUrl: z.string().optional(), // DATABASE_URL: unset → embedded PostgreSQL under dataDir
  dataDir: z.string().default('./data'), // DATA_DIR: embedded PostgreSQL's files and the writer's journal
  embeddedPgPort: int(1024, 65535).default(54329), // EMBEDDED_PG_PORT
  timescale: z.enum(['auto', 'on', 'off']).default('auto'), // TIMESCALEDB: hypertable when the extension exists
  compressAfter: z.string().regex(/^\d+ (minutes?|hours?|days?|weeks?|months?)$/, 'expected e.g. "1 day"').default('1 day'), // TIMESCALE_COMPRESS_AFTER
  // Unset: 30 days with DATABASE_URL; 1 hour for the embedded database, whose default run stores
  // ~3.6 MB/s (20-level books at 2,000 updates/s: ~13 GB an hour, ~310 GB a day).
  retention: z.string().regex(/^\d+ (minutes?|hours?|days?|weeks?|months?|years?)$/, 'expected e.g. "30 days"').optional(), // RETENTION
  rowQueueBytes: pow2(1 << 16, 1 << 30).default(1 << 23), // ROW_QUEUE_BYTES: shard → writer queue, per shard
  // Measured (README, Persistence): COPY of 20-level rows plateaus at ~47k rows/s from ~1,000 rows a
  // batch; larger batches only add latency (94 ms at 5,000, 196 ms at 10,000).
  writerBatchRows: int(1, 1_000_000).default(2000), // WRITER_BATCH_ROWS: a COPY batch closes at this many rows
  writerBatchMs: int(1, 60_000).default(100), // WRITER_BATCH_MS: … or when its oldest row is this old
  writerMemoryRows: int(1000, 100_000_000).default(500_000), // WRITER_MEMORY_ROWS: uncommitted rows held in memory before the journal
  journalMaxBytes: int(1 << 20, 2 ** 40).default(2 ** 30), // JOURNAL_MAX_BYTES: beyond it the writer stops taking rows (backpressure)
  diskMinFreeBytes: int(0, 2 ** 50).default(5 * 2 ** 30), // DISK_MIN_FREE_BYTES: less free space under DATA_DIR makes /health degraded (0: no check)
  redisUrl: z.string().optional(), // REDIS_URL: unset → the Redis tier is off
  redisPassword: z.string().optional(), // REDIS_PASSWORD
  redisDb: int(0, 15).default(0), // REDIS_DB
  redisTtlSeconds: int(1, 30 * 86400).default(3600), // REDIS_TTL_SECONDS: orderbook:{symbol}:latest and :history
  redisHistoryLength: int(1, 100_000).default(100), // REDIS_HISTORY_LENGTH: entries kept in orderbook:{symbol}:history
  redisTradesLength: int(1, 100_000).default(1000), // REDIS_TRADES_LENGTH: trades kept in trades:{symbol}
  redisMaxConnections: int(4, 10_000).default(20), // REDIS_MAX_CONNECTIONS: ceiling on the Redis connections this node opens
  httpMaxBodyBytes: int(1024, 64 << 20).default(1 << 20), // HTTP_MAX_BODY_BYTES: larger request bodies get 413
  cacheNamespacesFile: z.string().default('config/cache-namespaces.json'), // CACHE_NAMESPACES_FILE: the cache's namespaces
  rateLimitEnabled: bool.default(true), // RATE_LIMIT_ENABLED: limit /api/ requests per credential (else client address)
  rateLimitRequests: int(1, 1_000_000_000).default(1000), // RATE_LIMIT_REQUESTS: requests allowed per window
  rateLimitWindow: int(1, 30 * 86400).default(3600), // RATE_LIMIT_WINDOW: the window, seconds
  rateLimitPerKey: z
    .union([z.string().transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'expected a JSON object {"<key name or token subject>": {"requests": N, "windowSeconds": S}}' });
        return z.NEVER;
      }
    }), z.record(z.string(), z.unknown())])
    .pipe(z.record(z.string().min(1).max(256), z.strictObject({ requests: int(1, 1_000_000_000), windowSeconds: int(1, 30 * 86400) })))
    .default({}), // RATE_LIMIT_PER_KEY: limits of particular credentials by API key name or token subject, JSON
  // ── access control ──
  auth: z.enum(['off', 'writes', 'all']).default('writes'), // AUTH: who needs a credential (off: nobody, development only; writes: writes and admin; all: everything but /health)
  jwtSecret: z.string().min(32, 'must be at least 32 characters (256 bits) for HS256').optional(), // JWT_SECRET: HS256 tokens are accepted when set
  jwtPublicKeyFile: z.string().optional(), // JWT_PUBLIC_KEY_FILE: PEM public key or JWKS (JSON) file: RS256/ES256 tokens are accepted when set
  jwtIssuer: z.string().optional(), // JWT_ISSUER: when set, a token's iss must equal it
  jwtAudience: z.string().optional(), // JWT_AUDIENCE: when set, a token's aud must include it
  allowedOrigins: originList.optional(), // ALLOWED_ORIGINS: browser origins allowed beside the server's own (comma-separated; * for any)
  wsMaxConnections: int(1, 10_000_000).default(100_000), // WS_MAX_CONNECTIONS: WebSocket connections in all
  wsMaxConnectionsPerIp: int(1, 10_000_000).default(1000), // WS_MAX_CONNECTIONS_PER_IP: WebSocket connections per client address
  wsMessageRate: z.coerce.number().min(0.1).max(1_000_000).default(50), // WS_MESSAGE_RATE: client messages per second per connection, sustained
  wsMessageBurst: int(1, 1_000_000).default(100), // WS_MESSAGE_BURST: client messages a connection may send at once
  wsAuthTimeoutMs: int(100, 600_000).default(10_000), // WS_AUTH_TIMEOUT_MS: with AUTH=all, a connection must authenticate within this
  wsTokenGraceMs: int(0, 3_600_000).default(30_000), // WS_TOKEN_GRACE_MS: after its token expires, a connection has this long to send a fresh one
  httpRequestTimeoutMs: int(100, 600_000).default(10_000), // HTTP_REQUEST_TIMEOUT_MS: a request whose body has not arrived within this is cut (408)
  logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info'), // LOG_LEVEL
  logJson: bool.default(false), // LOG_JSON: one JSON object per line
});

/** One entry of FEEDS, validated; the supervisor runs main-thread feeds, a feed actor per exchange entry. */
export interface FeedEntry {
  kind: 'exchange' | 'simulator' | 'replay';
  /** The exchange (`binance`), or `simulator` / `replay`. */
  name: string;
  /** The entry as written, for messages. */
  text: string;
  /** Exchange and simulator entries: native names (`BTC/USD`) and served names (`KRAKEN.BTC-USD`); empty for the simulator's defaults. */
  symbols: readonly { native: string; served: string }[];
  /** Replay entries: the NDJSON file. */
  file?: string;
}

export type Config = Readonly<Omit<z.output<typeof configSchema>, 'historyCapacity' | 'symbols' | 'retention' | 'feeds'> & {
  historyCapacity: number;
  retention: string;
  symbols: readonly string[] | undefined;
  /** FEEDS, parsed; undefined when unset (FEED and SYMBOLS then say what runs). */
  feeds: readonly FeedEntry[] | undefined;
  /**
   * The cache service's namespaces, from CACHE_NAMESPACES_FILE with the TTL_* overrides
   * applied: validated definitions, plain data so they cross to the front worker (which
   * compiles them again with parseNamespaces).
   */
  cacheNamespaces: readonly NamespaceDefinition[];
}>;

/** Environment variable for each option. */
export const ENV_NAMES: Record<keyof z.input<typeof configSchema>, string> = {
  host: 'HOST', port: 'WEBSOCKET_PORT', shards: 'SHARDS', depth: 'BOOK_DEPTH',
  rawCapacity: 'RAW_RING_CAPACITY', tradeCapacity: 'TRADE_RING_CAPACITY', tradesOnSubscribe: 'TRADES_ON_SUBSCRIBE', analytics: 'ANALYTICS', alertWebhookSecret: 'ALERT_WEBHOOK_SECRET', alertRecheckMs: 'ALERT_RECHECK_MS', candleCapacity: 'CANDLE_RING_CAPACITY', candlePublishMs: 'CANDLE_PUBLISH_MS', candleCloseGraceMs: 'CANDLE_CLOSE_GRACE_MS', historyResolutionMs: 'HISTORY_RESOLUTION_MS',
  historyCapacity: 'HISTORY_RING_CAPACITY', inputQueueBytes: 'INPUT_QUEUE_BYTES',
  frameQueueBytes: 'FRAME_QUEUE_BYTES', feed: 'FEED', symbols: 'SYMBOLS', maxSymbols: 'MAX_SYMBOLS',
  feeds: 'FEEDS', binanceWsUrl: 'BINANCE_WS_URL', binanceRestUrl: 'BINANCE_REST_URL', binanceRotateMs: 'BINANCE_ROTATE_MS',
  coinbaseWsUrl: 'COINBASE_WS_URL', krakenWsUrl: 'KRAKEN_WS_URL',
  simUpdatesPerSecond: 'SIM_UPDATES_PER_SECOND', simSeed: 'SIM_SEED', simTickMs: 'SIM_TICK_MS', simTradesPerUpdate: 'SIM_TRADES_PER_UPDATE', replayFile: 'REPLAY_FILE',
  replaySpeed: 'REPLAY_SPEED', staleAfterMs: 'STALE_AFTER_MS', wsMaxBackpressure: 'WS_MAX_BACKPRESSURE',
  wsConflateBytes: 'WS_CONFLATE_BYTES', wsMaxMessageBytes: 'WS_MAX_MESSAGE_BYTES',
  wsMaxSubscriptions: 'WS_MAX_SUBSCRIPTIONS', wsIdleTimeoutS: 'WS_IDLE_TIMEOUT_S',
  snapshotThreads: 'SNAPSHOT_THREADS', marketTimeZone: 'MARKET_TIMEZONE',
  restartBackoffMs: 'RESTART_BACKOFF_MS', restartBackoffMaxMs: 'RESTART_BACKOFF_MAX_MS',
  maxStartFailures: 'MAX_START_FAILURES', persist: 'PERSIST', databaseUrl: 'DATABASE_URL', dataDir: 'DATA_DIR',
  embeddedPgPort: 'EMBEDDED_PG_PORT', timescale: 'TIMESCALEDB', compressAfter: 'TIMESCALE_COMPRESS_AFTER',
  retention: 'RETENTION', rowQueueBytes: 'ROW_QUEUE_BYTES', writerBatchRows: 'WRITER_BATCH_ROWS',
  writerBatchMs: 'WRITER_BATCH_MS', writerMemoryRows: 'WRITER_MEMORY_ROWS', journalMaxBytes: 'JOURNAL_MAX_BYTES', diskMinFreeBytes: 'DISK_MIN_FREE_BYTES',
  redisUrl: 'REDIS_URL', redisPassword: 'REDIS_PASSWORD', redisDb: 'REDIS_DB', redisTtlSeconds: 'REDIS_TTL_SECONDS',
  redisHistoryLength: 'REDIS_HISTORY_LENGTH', redisTradesLength: 'REDIS_TRADES_LENGTH', redisMaxConnections: 'REDIS_MAX_CONNECTIONS',
  httpMaxBodyBytes: 'HTTP_MAX_BODY_BYTES', cacheNamespacesFile: 'CACHE_NAMESPACES_FILE', rateLimitEnabled: 'RATE_LIMIT_ENABLED',
  rateLimitRequests: 'RATE_LIMIT_REQUESTS', rateLimitWindow: 'RATE_LIMIT_WINDOW', rateLimitPerKey: 'RATE_LIMIT_PER_KEY',
  auth: 'AUTH', jwtSecret: 'JWT_SECRET', jwtPublicKeyFile: 'JWT_PUBLIC_KEY_FILE', jwtIssuer: 'JWT_ISSUER', jwtAudience: 'JWT_AUDIENCE',
  allowedOrigins: 'ALLOWED_ORIGINS', wsMaxConnections: 'WS_MAX_CONNECTIONS', wsMaxConnectionsPerIp: 'WS_MAX_CONNECTIONS_PER_IP',
  wsMessageRate: 'WS_MESSAGE_RATE', wsMessageBurst: 'WS_MESSAGE_BURST', wsAuthTimeoutMs: 'WS_AUTH_TIMEOUT_MS', wsTokenGraceMs: 'WS_TOKEN_GRACE_MS',
  httpRequestTimeoutMs: 'HTTP_REQUEST_TIMEOUT_MS', logLevel: 'LOG_LEVEL', logJson: 'LOG_JSON',
};

const DEFAULT_FILE = 'config/tickplant.json';
/** RETENTION when unset: a server of one's own keeps a month; the embedded one an hour (see the schema). */
export const DEFAULT_RETENTION = { database: '30 days', embedded: '1 hour' } as const;
/** Enough points for a day and a half at the configured resolution: today plus late replays. */
const HISTORY_SPAN_MS = 36 * 3600_000;

/**
 * Builds the frozen configuration. `overrides` (tests, benchmarks) win over everything.
 * Throws ConfigError naming the option and its environment variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<z.input<typeof configSchema>> = {}): Config {
  const raw: Record<string, unknown> = { ...readFile(env.TICKPLANT_CONFIG) };
  for (const [key, name] of Object.entries(ENV_NAMES)) {
    const v = env[name]?.trim();
    if (v !== undefined && v !== '') raw[key] = v;
  }
  Object.assign(raw, overrides);
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    if (issue.code === 'unrecognized_keys') {
      throw new ConfigError(`invalid configuration: unknown option(s) ${issue.keys.join(', ')} (check the spelling in ${env.TICKPLANT_CONFIG ?? DEFAULT_FILE})`);
    }
    const key = String(issue.path[0] ?? '');
    const name = ENV_NAMES[key as keyof typeof ENV_NAMES];
    throw new ConfigError(`invalid configuration: ${key}${name ? ` (${name})` : ''}: ${issue.message}`);
  }
  const c = parsed.data;
  const feeds = c.feeds === undefined ? undefined : parseFeeds(c.feeds, c.maxSymbols);
  if (feeds && (raw.feed !== undefined || raw.symbols !== undefined)) {
    throw new ConfigError('invalid configuration: feeds (FEEDS) replaces feed (FEED) and symbols (SYMBOLS): set FEEDS alone, e.g. FEEDS="simulator:US.AAPL;binance:BTCUSDT"');
  }
  if (!feeds && c.feed === 'replay' && !c.replayFile) throw new ConfigError('invalid configuration: replayFile (REPLAY_FILE) is required when FEED=replay');
  if (c.wsMaxBackpressure - c.wsConflateBytes < 1 << 15) {
    // The front sweeps for slow clients whenever this much has been published since the last
    // sweep; a smaller margin would sweep every connection on almost every frame.
    throw new ConfigError('invalid configuration: wsConflateBytes (WS_CONFLATE_BYTES) must be at least 32 KiB below wsMaxBackpressure (WS_MAX_BACKPRESSURE)');
  }
  if (c.restartBackoffMaxMs < c.restartBackoffMs) {
    throw new ConfigError('invalid configuration: restartBackoffMaxMs (RESTART_BACKOFF_MAX_MS) must be >= restartBackoffMs');
  }
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: c.marketTimeZone });
  } catch {
    throw new ConfigError(`invalid configuration: marketTimeZone (MARKET_TIMEZONE): unknown time zone "${c.marketTimeZone}"`);
  }
  const historyCapacity = c.historyCapacity ?? nextPowerOfTwo(Math.ceil(HISTORY_SPAN_MS / c.historyResolutionMs));
  const cacheNamespaces = loadNamespaces(env, fromPackage(c.cacheNamespacesFile)).map(({ keys: _keys, ttlEnv: _applied, ...d }) => Object.freeze(d));
  const retention = c.retention ?? (c.databaseUrl ? DEFAULT_RETENTION.database : DEFAULT_RETENTION.embedded);
  return Object.freeze({ ...c, historyCapacity, retention, symbols: c.symbols ? Object.freeze([...c.symbols]) : undefined, feeds, cacheNamespaces });
}

/**
 * FEEDS: entries separated by `;`, each `<exchange>:<symbol>,<symbol>…`, `simulator[:<symbols>]`
 * or `replay:<file>`. Every refusal names the entry, as written.
 */
export function parseFeeds(text: string, maxSymbols: number): readonly FeedEntry[] {
  const entries: FeedEntry[] = [];
  const seen = new Map<string, string>(); // served name → the entry that has it
  for (const raw of text.split(';')) {
    const entry = raw.trim();
    if (entry === '') continue; // `a;b;` is a trailing separator, not an entry
    const fail = (why: string): never => {
      throw new ConfigError(`invalid configuration: feeds (FEEDS): entry ${JSON.stringify(entry.slice(0, 200))}: ${why}`);
    };
    const colon = entry.indexOf(':');
    const name = (colon < 0 ? entry : entry.slice(0, colon)).trim().toLowerCase();
    const rest = colon < 0 ? undefined : entry.slice(colon + 1).trim();
    if (entries.some((e) => e.name === name)) fail(`${name} appears twice: list all its symbols in one entry`);
    if (name === 'replay') {
      if (!rest) fail('expected replay:<file of NDJSON books>');
      entries.push({ kind: 'replay', name, text: entry, symbols: [], file: rest });
      continue;
    }
    const list = rest ? rest.split(',').map((x) => x.trim()) : [];
    if (list.some((x) => x === '')) fail('an empty symbol (expected <name>:<symbol>,<symbol>…)');
    let symbols: { native: string; served: string }[];
    if (name === 'simulator') {
      for (const s of list) if (!SYMBOL_NAME.test(s)) fail(`symbol ${JSON.stringify(s)}: expected 1-32 characters of [A-Za-z0-9._:/-]`);
      symbols = list.map((s) => ({ native: s, served: s }));
    } else {
      const def = exchangeDefinition(name);
      if (!def) fail(`unknown feed ${JSON.stringify(name)} (known: ${[...exchangeNames(), ...MAIN_THREAD_FEEDS].join(', ')})`);
      if (list.length === 0) fail(`expected ${name}:<symbol>,<symbol>…, e.g. ${name}:${def!.example}`);
      symbols = list.map((s) => {
        if (!def!.symbol.test(s)) fail(`symbol ${JSON.stringify(s)} is not a ${name} symbol (e.g. ${def!.example})`);
        const served = def!.served(s);
        if (!SYMBOL_NAME.test(served)) fail(`symbol ${s} would be served as ${served}: longer than 32 characters`);
        return { native: s, served };
      });
    }
    for (const s of symbols) {
      const other = seen.get(s.served);
      if (other !== undefined) fail(`${s.served} is listed twice${other === entry ? '' : ` (also in ${JSON.stringify(other)})`}`);
      seen.set(s.served, entry);
    }
    entries.push({ kind: name === 'simulator' ? 'simulator' : 'exchange', name, text: entry, symbols: Object.freeze(symbols) });
  }
  if (entries.length === 0) throw new ConfigError('invalid configuration: feeds (FEEDS) names no feed (e.g. FEEDS="binance:BTCUSDT;coinbase:BTC-USD")');
  if (seen.size > maxSymbols) {
    throw new ConfigError(`invalid configuration: feeds (FEEDS) lists ${seen.size} symbols, more than maxSymbols (MAX_SYMBOLS, ${maxSymbols})`);
  }
  return Object.freeze(entries.map((e) => Object.freeze(e)));
}

function readFile(explicit: string | undefined): Record<string, unknown> {
  const path = explicit ?? (existsSync(DEFAULT_FILE) ? DEFAULT_FILE : undefined);
  if (!path) return {};
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`invalid configuration: cannot read ${path} (TICKPLANT_CONFIG): ${(e as Error).message}`);
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('expected a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError(`invalid configuration: ${path} (TICKPLANT_CONFIG) is not a JSON object: ${(e as Error).message}`);
  }
}

/**
 * A relative path as given when it exists from the working directory, else from the package
 * root (the nearest directory above this module with a package.json): the shipped
 * config/cache-namespaces.json is found whichever directory tickplant is started from.
 */
function fromPackage(path: string): string {
  if (isAbsolute(path) || existsSync(path)) return path;
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, path);
  }
  return path;
}

export function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
