// The schema, as ordered migrations kept in the repo; migrate() applies the missing ones.
//
// Each migration runs once, recorded in `tickplant_migrations`. All pending migrations run
// in one transaction under a transaction-scoped advisory lock, so two processes starting
// together serialize: the second waits, then finds everything recorded and applies nothing.
// Migrations are never edited once released; a change is a new migration with the next id.
//
// TimescaleDB or plain PostgreSQL is decided once, by migration 3, from
// `pg_available_extensions` (option `timescale: 'auto'`), and stays as recorded: a database
// migrated plain stays plain when TimescaleDB appears later (converting is a manual job,
// create_hypertable(…, migrate_data => true)). Compression and retention policies are set
// once too; to change them later use TimescaleDB's remove_*_policy / add_*_policy.
//
// The timescaledb extension belongs to the database and lives in one schema; its functions
// (create_hypertable, time_bucket, last) are found through the session's search_path. Created
// here, it lands in the first schema of that path. Where several deployments share a database
// in schemas of their own, create it once in a schema every search_path names (`public`):
// created inside one deployment's schema, the others cannot see it, and dropping that schema
// drops the extension for all of them.

import type pg from 'pg';
import { StartupError } from '../errors.js';

export interface MigrationContext {
  /**
   * Whether this database gets the TimescaleDB schema (hypertable, compression, policies). For
   * migration 3 it is the extension's availability; for later ones, migration 3's decision as
   * recorded (order_book_data is a hypertable), so every table of a database follows it.
   */
  timescale: boolean;
  /** A PostgreSQL interval literal, already validated and normalized, e.g. `1 day`. */
  compressAfter: string;
  /** A PostgreSQL interval literal, already validated and normalized, e.g. `30 days`. */
  retention: string;
  /** An IANA time zone PostgreSQL knows, already validated (MARKET_TIMEZONE): where a `1d` candle starts. */
  marketTimeZone: string;
}

export interface Migration {
  id: number;
  name: string;
  sql: string | ((ctx: MigrationContext) => string);
}

export interface MigrateOptions {
  /** 'auto': TimescaleDB when the extension can be created here; 'on': required; 'off': never. */
  timescale: 'auto' | 'on' | 'off';
  /** Age after which TimescaleDB compresses chunks, e.g. '1 day'. */
  compressAfter: string;
  /** Age after which rows are dropped (TimescaleDB policy, or applyRetention on plain PostgreSQL). */
  retention: string;
  /** IANA time zone whose 00:00 starts a `1d` candle (MARKET_TIMEZONE), for TimescaleDB's day aggregate. Default 'UTC'. */
  marketTimeZone?: string;
}

/** `'…'` with quotes doubled: intervals go into SQL text, because migrations run as plain scripts. */
const literal = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** Migration 6's aggregates over candles_1m and their bucket widths; the day's is in MARKET_TIMEZONE. */
const CANDLE_ROLLUPS = [
  ['candles_5m', '5 minutes'], ['candles_15m', '15 minutes'], ['candles_1h', '1 hour'], ['candles_4h', '4 hours'], ['candles_1d', '1 day'],
] as const;

export const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'order_book_data',
    // The order-book columns, widened: numeric(24,10) rather than (10,4) because crypto prices
    // need more than 6 integer digits (BTC in some quotes) and more than 4 decimals (most
    // altcoins); volumes numeric(30,10). Plus the sequence (seq, epoch) and two metrics.
    sql: `
      create table if not exists order_book_data (
        time              timestamptz not null,
        symbol            varchar(32) not null,
        best_bid          numeric(24,10),
        best_ask          numeric(24,10),
        mid_price         numeric(24,10),
        spread            numeric(24,10),
        spread_percentage numeric(24,10),
        bid_volume        numeric(30,10),
        ask_volume        numeric(30,10),
        total_volume      numeric(30,10),
        bid_levels        jsonb,
        ask_levels        jsonb,
        created_at        timestamptz default now(),
        seq               bigint not null,
        epoch             bigint not null,
        imbalance         double precision,
        microprice        numeric(24,10)
      );
      -- A replayed row collides here, so a batch is never stored twice. A hypertable's unique
      -- index must contain the time column; time is a function of (symbol, epoch, seq), so
      -- adding it does not let a replay through.
      create unique index if not exists order_book_data_symbol_epoch_seq_time_key
        on order_book_data (symbol, epoch, seq, time);
      create index if not exists order_book_data_symbol_time_idx
        on order_book_data (symbol, time desc);
    `,
  },
  {
    id: 2,
    name: 'ingest_progress',
    // The last seq committed per (symbol, epoch), written in the same transaction as its rows.
    sql: `
      create table if not exists ingest_progress (
        symbol     varchar(32) not null,
        epoch      bigint not null,
        last_seq   bigint not null,
        last_time  timestamptz,
        updated_at timestamptz default now(),
        primary key (symbol, epoch)
      );
    `,
  },
  {
    id: 3,
    name: 'timescale_or_plain',
    sql: (ctx) => ctx.timescale
      ? `
        create extension if not exists timescaledb;
        -- 1-day chunks: compression and retention act on whole chunks, so a chunk should be
        -- small against compressAfter (the default 7 days would keep a week uncompressed).
        select create_hypertable('order_book_data', by_range('time', interval '1 day'),
                                 if_not_exists => true, migrate_data => true);
        alter table order_book_data set (
          timescaledb.compress,
          timescaledb.compress_segmentby = 'symbol',
          -- epoch and seq too: every column of the unique index is then segmentby or orderby,
          -- so a replay into a compressed chunk is checked without decompressing whole batches
          -- (TimescaleDB warns "column … should be used for segmenting or ordering" otherwise).
          timescaledb.compress_orderby = 'time desc, epoch desc, seq desc'
        );
        select add_compression_policy('order_book_data', ${literal(ctx.compressAfter)}::interval, if_not_exists => true);
        select add_retention_policy('order_book_data', ${literal(ctx.retention)}::interval, if_not_exists => true);
      `
      // Plain PostgreSQL: applyRetention deletes by time, and no index leads with time. A BRIN
      // index is a few pages for an append-ordered table and costs inserts almost nothing.
      : `
        create index if not exists order_book_data_time_brin on order_book_data using brin (time);
      `,
  },
  {
    id: 4,
    name: 'api_keys',
    // Only the SHA-256 of each key is stored: a leaked table lets nobody in. Revoked keys stay
    // (revoked_at set) so listings show who had access and until when; a name is reusable once
    // its key is revoked, which is why its uniqueness is a partial index, not a constraint.
    sql: `
      create table if not exists api_keys (
        id         text primary key check (id ~ '^[0-9a-f]{8}$'),
        name       text not null,
        user_id    text not null default '',
        scopes     text[] not null check (cardinality(scopes) > 0 and scopes <@ array['read', 'write', 'admin']),
        key_hash   text not null unique check (key_hash ~ '^[0-9a-f]{64}$'),
        created_at timestamptz not null default now(),
        revoked_at timestamptz
      );
      create unique index if not exists api_keys_active_name_key on api_keys (name) where revoked_at is null;
    `,
  },
  {
    id: 5,
    name: 'trades',
    // Every trade once: the exchange's id is unique per symbol, and a trade that arrives again (a
    // reconnect's replay, a restarted shard's re-sent row) collides in the unique index; the
    // writer inserts with ON CONFLICT DO NOTHING. A hypertable's unique index must contain the
    // time column; time is the exchange's time of the trade, which a replay repeats. (epoch, seq)
    // is the trade's place in its symbol's trades channel and orders trades of equal time.
    // price and size as order_book_data's price and volume columns.
    sql: (ctx) => `
      create table if not exists trades (
        time      timestamptz not null,
        symbol    text not null,
        trade_id  text not null,
        price     numeric(24,10),
        size      numeric(30,10),
        side      text not null check (side in ('buy', 'sell')),
        epoch     bigint not null,
        seq       bigint not null,
        feed_time timestamptz
      );
      create index if not exists trades_symbol_time_idx on trades (symbol, time desc);
      ${ctx.timescale
        ? `
        create unique index if not exists trades_symbol_trade_id_time_key on trades (symbol, trade_id, time);
        -- As order_book_data: 1-day chunks, compressed by symbol, dropped by the retention policy.
        -- No default index on time alone: queries name a symbol, and retention drops whole chunks.
        select create_hypertable('trades', by_range('time', interval '1 day'),
                                 create_default_indexes => false, if_not_exists => true, migrate_data => true);
        alter table trades set (
          timescaledb.compress,
          timescaledb.compress_segmentby = 'symbol',
          -- trade_id too: every column of the unique index is segmentby or orderby, so a replay
          -- into a compressed chunk is checked without decompressing whole segments.
          timescaledb.compress_orderby = 'time desc, trade_id'
        );
        select add_compression_policy('trades', ${literal(ctx.compressAfter)}::interval, if_not_exists => true);
        select add_retention_policy('trades', ${literal(ctx.retention)}::interval, if_not_exists => true);
      `
        // Plain PostgreSQL: the unique index needs no time; applyRetention deletes by time (BRIN, as migration 3).
        : `
        create unique index if not exists trades_symbol_trade_id_key on trades (symbol, trade_id);
        create index if not exists trades_time_brin on trades using brin (time);
      `}
    `,
  },
  {
    id: 6,
    name: 'candles',
    // Stored candles (candle-query.ts). Plain PostgreSQL buckets `trades` when asked and needs
    // nothing here. TimescaleDB keeps them in continuous aggregates, real-time (materialized_only =
    // false): a read adds what the last refresh left out, aggregated from the layer below at read
    // time, so the newest trades count at once. 1s candles are bucketed from `trades` on both.
    //
    // candles_1m is built from trades; 5m, 15m, 1h, 4h and 1d from candles_1m, which keeps them
    // exact: open and close are the first and last minute's (first()/last() by bucket: minutes
    // never tie), high and low are max and min, volume, trades and quote_volume (sum(price·size),
    // for vwap) are sums of numerics. In candles_1m open and close are the prices at the least and
    // greatest (time, epoch, seq), the order of the symbol's trades channel, taken as min/max of
    // numeric arrays, which compare element by element: first(price, time) breaks ties
    // arbitrarily and trades share microseconds; first() over a row value fails once TimescaleDB
    // aggregates chunk by chunk (it ships the state as an anonymous record). The time enters as
    // extract(epoch from time − 'epoch'), exact to the microsecond and immutable, as an aggregate's
    // expressions should be (extract from a timestamptz is only stable). A refresh reads the layer
    // below through its real-time view, so a child is exact even before its parent's refresh.
    //
    // Every policy starts at the beginning (start_offset NULL): a trade stored late (a journal
    // replayed after an outage) reaches its candles at the next refresh of each layer, and candles
    // follow `trades`' retention (dropping a chunk invalidates its buckets).
    //
    // The day starts at 00:00 of MARKET_TIMEZONE (time_bucket with a time zone; the view's comment
    // records the zone). TimescaleDB 2.28 loses part of an invalidation of time-zone buckets: a
    // change from an earlier day up to exactly a day's start (the last minutes of one day and the
    // first minute of the next, stored late together) refreshes the earlier days but not that
    // one, which would keep its old candle. So candles_1d materializes only days that ended a week
    // ago (end_offset): newer days are aggregated from candles_1m at each read (at most about
    // 8 × 1440 rows a symbol), and a trade stored within a week of its day's end always counts.
    // One later still, in a day's first minute, may wait for another change to that day.
    //
    // A MARKET_TIMEZONE changed later leaves candles_1d in the zone it was made in: readCandles
    // sees the comment differ and buckets candles_1m in the new zone instead (exact, slower over
    // long ranges). To rebuild it in the new zone: `drop materialized view candles_1d; delete from
    // tickplant_migrations where id = 6;` and start again; this migration makes only what is missing.
    sql: (ctx) => ctx.timescale
      ? `
        create materialized view if not exists candles_1m
          with (timescaledb.continuous, timescaledb.materialized_only = false) as
          select symbol, time_bucket(interval '1 minute', time) as bucket,
                 (min(array[extract(epoch from time - timestamptz 'epoch'), epoch, seq, price]))[4] as open,
                 max(price) as high, min(price) as low,
                 (max(array[extract(epoch from time - timestamptz 'epoch'), epoch, seq, price]))[4] as close,
                 sum(size) as volume, count(*) as trades, sum(price * size) as quote_volume
            from trades
           group by 1, 2
          with no data;
        ${CANDLE_ROLLUPS.map(([name, width]) => `
        create materialized view if not exists ${name}
          with (timescaledb.continuous, timescaledb.materialized_only = false) as
          select symbol, time_bucket(interval '${width}', bucket${width === '1 day' ? `, ${literal(ctx.marketTimeZone)}` : ''}) as bucket,
                 first(open, bucket) as open, max(high) as high, min(low) as low, last(close, bucket) as close,
                 sum(volume) as volume, sum(trades)::bigint as trades, sum(quote_volume) as quote_volume
            from candles_1m
           group by 1, 2
          with no data;`).join('')}
        comment on view candles_1d is ${literal(ctx.marketTimeZone)};
        select add_continuous_aggregate_policy('candles_1m', start_offset => null, end_offset => interval '1 minute',
                                               schedule_interval => interval '1 minute', if_not_exists => true);
        ${CANDLE_ROLLUPS.map(([name, width]) => `
        select add_continuous_aggregate_policy('${name}', start_offset => null,
                                               end_offset => interval '${width === '1 day' ? '7 days' : '1 minute'}',
                                               schedule_interval => interval '5 minutes', if_not_exists => true);`).join('')}
      `
      : 'select 1 -- plain PostgreSQL: candles are bucketed from trades when read',
  },
  {
    id: 7,
    name: 'price_alerts',
    // Price alerts: their state is the table's, so an alert fires once whichever process (or node
    // sharing this database) evaluates it: firing is `update … where status = 'active'`, and only
    // the one whose update changed the row delivers. A plain table on TimescaleDB too (few rows).
    sql: `
      create table if not exists price_alerts (
        alert_id          bigserial primary key,
        user_id           text not null,
        symbol            text not null,
        condition         text not null check (condition in ('above', 'below', 'crosses_above', 'crosses_below')),
        target_price      numeric(24,10) not null check (target_price > 0),
        webhook_url       text,
        status            text not null default 'active' check (status in ('active', 'triggered', 'expired', 'deleted')),
        created_at        timestamptz not null default now(),
        expires_at        timestamptz,
        triggered_at      timestamptz,
        trigger_price     numeric(24,10),
        trigger_epoch     bigint,
        trigger_seq       bigint,
        trigger_time      timestamptz,
        webhook_status    text check (webhook_status in ('pending', 'delivered', 'failed')),
        webhook_attempts  integer not null default 0,
        webhook_last_error text,
        webhook_delivered_at timestamptz
      );
      create index if not exists price_alerts_active_idx on price_alerts (symbol) where status = 'active';
      create index if not exists price_alerts_user_idx on price_alerts (user_id, status);
    `,
  },
];

/** The migration that decides TimescaleDB or plain PostgreSQL; later migrations follow what it recorded. */
const TIMESCALE_DECIDED_BY = 3;

/** Class id of the advisory lock; the object id is hashtext(current schema), so schemas migrate independently. */
const LOCK_CLASS = 0x7470; // "tp"

/**
 * Applies the migrations not yet recorded, in id order, and reports which ones ran and
 * whether the database is on TimescaleDB (order_book_data is a hypertable).
 */
export async function migrate(pool: pg.Pool, opts: MigrateOptions): Promise<{ timescale: boolean; applied: number[] }> {
  if (opts.timescale !== 'auto' && opts.timescale !== 'on' && opts.timescale !== 'off') {
    throw new TypeError(`migrate: timescale must be 'auto', 'on' or 'off', got ${JSON.stringify(opts.timescale)}`);
  }
  const client = await pool.connect();
  let failure: unknown;
  try {
    const compressAfter = await normalizeInterval(client, 'compressAfter', opts.compressAfter);
    const retention = await normalizeInterval(client, 'retention', opts.retention);
    const available = opts.timescale !== 'off' && await timescaleAvailable(client);
    if (opts.timescale === 'on' && !available) {
      throw new StartupError(
        "TIMESCALEDB=on, but the timescaledb extension is not available on DATABASE_URL's server (pg_available_extensions) or not in its shared_preload_libraries: install it there, or set TIMESCALEDB=auto",
        'store_timescale_unavailable');
    }
    const marketTimeZone = await checkTimeZone(client, opts.marketTimeZone ?? 'UTC');
    const ctx: MigrationContext = { timescale: available, compressAfter, retention, marketTimeZone };

    const applied: number[] = [];
    await client.query('begin');
    try {
      // Before anything else: the lock also covers creating the bookkeeping table, which two
      // sessions cannot both do at once (`if not exists` is not safe against a concurrent create).
      await client.query('select pg_advisory_xact_lock($1, hashtext(current_schema()))', [LOCK_CLASS]);
      await client.query(`
        create table if not exists tickplant_migrations (
          id         integer primary key,
          name       text not null,
          applied_at timestamptz not null default now()
        )`);
      const done = new Map<number, string>();
      for (const r of (await client.query<{ id: number; name: string }>('select id, name from tickplant_migrations')).rows) {
        done.set(r.id, r.name);
      }
      // TimescaleDB is needed when a pending migration may create TimescaleDB objects (its SQL
      // depends on ctx) or the table already is a hypertable. Checked before any DDL: an extension
      // outside search_path would otherwise fail as "function by_range(unknown, interval) does
      // not exist", or pass here and break every history read (time_bucket, last).
      // After migration 3 the decision is recorded: a database it left plain gets no TimescaleDB object.
      const timescalePending = ctx.timescale && !done.has(TIMESCALE_DECIDED_BY);
      if (timescalePending || await isHypertable(client)) await requireExtensionOnPath(client);
      for (const m of [...MIGRATIONS].sort((a, b) => a.id - b.id)) {
        const recorded = done.get(m.id);
        if (recorded !== undefined) {
          if (recorded !== m.name) {
            throw new StartupError(
              `migrate: migration ${m.id} is recorded as ${JSON.stringify(recorded)} but this build calls it ${JSON.stringify(m.name)}; migrations must never be renumbered — restore the numbering`,
              'store_migration_mismatch');
          }
          continue;
        }
        if (typeof m.sql === 'function') {
          const decided = m.id > TIMESCALE_DECIDED_BY ? { ...ctx, timescale: await isHypertable(client) } : ctx;
          await client.query(m.sql(decided));
        } else {
          await client.query(m.sql);
        }
        await client.query('insert into tickplant_migrations (id, name) values ($1, $2)', [m.id, m.name]);
        applied.push(m.id);
      }
      await client.query('commit');
    } catch (err) {
      // A failed migration leaves nothing behind: DDL is transactional in PostgreSQL.
      await client.query('rollback');
      throw err;
    }
    return { timescale: await isHypertable(client), applied };
  } catch (err) {
    failure = err;
    throw err;
  } finally {
    // A client whose rollback failed may be mid-transaction: the pool must not reuse it.
    client.release(failure instanceof Error ? failure : undefined);
  }
}

/**
 * Whether `create extension timescaledb` can succeed here: the package is installed
 * (pg_available_extensions) and its library is preloaded, or the extension already exists.
 * A package installed without `shared_preload_libraries = 'timescaledb'` is listed as
 * available but cannot be created.
 */
export async function timescaleAvailable(client: pg.ClientBase): Promise<boolean> {
  const r = await client.query<{ available: boolean }>(`
    select exists (select 1 from pg_available_extensions where name = 'timescaledb')
       and (exists (select 1 from pg_extension where extname = 'timescaledb')
            or current_setting('shared_preload_libraries') ~ '(^|[\\s,])timescaledb($|[\\s,])') as available`);
  return r.rows[0].available;
}

/**
 * Throws when the timescaledb extension exists in a schema this session's search_path does not
 * name: TimescaleDB's functions are called unqualified, in migrations and history queries.
 */
async function requireExtensionOnPath(client: pg.ClientBase): Promise<void> {
  const r = await client.query<{ schema: string; on_path: boolean; path: string }>(`
    select n.nspname as schema, n.nspname = any(current_schemas(true)) as on_path,
           current_setting('search_path') as path
      from pg_extension e join pg_namespace n on n.oid = e.extnamespace
     where e.extname = 'timescaledb'`);
  const ext = r.rows[0];
  if (!ext || ext.on_path) return; // not created yet: migration 3 creates it on the path
  throw new StartupError(
    `migrate: the timescaledb extension is in schema "${ext.schema}", which this connection's search_path (${ext.path}) does not name; add it, e.g. DATABASE_URL …?options=-c%20search_path%3D<your schema>,${ext.schema}`,
    'store_timescale_search_path');
}

async function isHypertable(client: pg.ClientBase): Promise<boolean> {
  const ext = await client.query('select 1 from pg_extension where extname = $1', ['timescaledb']);
  if (ext.rowCount === 0) return false;
  const r = await client.query(
    `select 1 from timescaledb_information.hypertables
      where hypertable_schema = current_schema() and hypertable_name = 'order_book_data'`);
  return r.rowCount !== null && r.rowCount > 0;
}

/** PostgreSQL's own text of a positive interval, or a RangeError naming the option. */
async function normalizeInterval(client: pg.ClientBase, option: string, value: string): Promise<string> {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new RangeError(`${option} must be a PostgreSQL interval such as '1 day', got ${JSON.stringify(value)}`);
  }
  let r: pg.QueryResult<{ text: string; positive: boolean }>;
  try {
    r = await client.query('select $1::interval::text as text, $1::interval > interval \'0\' as positive', [value]);
  } catch (err) {
    const code = (err as { code?: string }).code;
    // 22007 invalid_datetime_format, 22008 datetime_field_overflow, 22015 interval_field_overflow
    if (code === '22007' || code === '22008' || code === '22015') {
      throw new RangeError(`${option} must be a PostgreSQL interval such as '1 day', got ${JSON.stringify(value)}`);
    }
    throw err;
  }
  if (!r.rows[0].positive) throw new RangeError(`${option} must be a positive interval, got ${JSON.stringify(value)}`);
  return r.rows[0].text;
}

/** `zone` when PostgreSQL knows it, or a RangeError naming the option. */
async function checkTimeZone(client: pg.ClientBase, zone: string): Promise<string> {
  if (typeof zone !== 'string' || zone.trim() === '') {
    throw new RangeError(`marketTimeZone must be an IANA time zone such as 'America/New_York', got ${JSON.stringify(zone)}`);
  }
  try {
    await client.query('select now() at time zone $1', [zone]);
  } catch (err) {
    // 22023 invalid_parameter_value: time zone "…" not recognized
    if ((err as { code?: string }).code === '22023') {
      throw new RangeError(`marketTimeZone (MARKET_TIMEZONE) must be a time zone PostgreSQL knows (pg_timezone_names), got ${JSON.stringify(zone)}`);
    }
    throw err;
  }
  return zone;
}

/** The tables RETENTION applies to: the TimescaleDB policies of migrations 3 and 5, or applyRetention. */
const RETAINED_TABLES = ['order_book_data', 'trades'] as const;

/**
 * Plain-PostgreSQL retention: deletes rows of order_book_data and trades older than `retention`
 * (measured from now, once) in batches of `batchRows`, each its own transaction, so no lock or
 * WAL burst grows with the backlog and ingest keeps running. Returns the rows deleted. On
 * TimescaleDB the retention policies drop whole chunks instead; this still works there, only slower.
 */
export async function applyRetention(pool: pg.Pool, retention: string, batchRows = 10_000): Promise<number> {
  if (!Number.isInteger(batchRows) || batchRows < 1) {
    throw new RangeError(`applyRetention: batchRows must be a positive integer, got ${batchRows}`);
  }
  const client = await pool.connect();
  let failure: Error | undefined;
  try {
    const interval = await normalizeInterval(client, 'retention', retention);
    // The cutoff as text: a Date would drop the microseconds.
    const cutoff = (await client.query<{ cutoff: string }>('select (now() - $1::interval)::text as cutoff', [interval])).rows[0].cutoff;
    let total = 0;
    for (const table of RETAINED_TABLES) {
      // A schema older than the table's migration (a pass racing the first migrate) has nothing to delete.
      if ((await client.query<{ t: string | null }>('select to_regclass($1)::text as t', [table])).rows[0].t === null) continue;
      for (;;) {
        // ctid batches: PostgreSQL's DELETE has no LIMIT; `= any(array(…))` becomes a TID scan.
        const r = await client.query(
          `delete from ${table} where ctid = any(array(
             select ctid from ${table} where time < $1::timestamptz limit $2))`,
          [cutoff, batchRows]);
        const n = r.rowCount ?? 0;
        total += n;
        if (n < batchRows) break;
      }
    }
    return total;
  } catch (err) {
    failure = err instanceof Error ? err : new Error(String(err));
    throw err;
  } finally {
    client.release(failure);
  }
}
