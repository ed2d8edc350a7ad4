// The built-in "postgres" source: one generic key-value table, cache_records, as the source of truth.
//
//   cache_records(namespace text, key text, value jsonb, updated_at timestamptz,
//                 primary key (namespace, key))
//
// Created idempotently at start, under a transaction-scoped advisory lock (two nodes starting
// at once would otherwise race on the catalog). One pool per CacheService; one CacheSource
// object per namespace (it binds the namespace name).

import pg from 'pg';
import type { Logger } from '../log.js';
import type { Params } from './keys.js';
import type { CacheSource, SourceItem } from './types.js';

/** Advisory lock class of the cache's DDL; the object id is hashtext(current_schema()). */
const DDL_LOCK_CLASS = 0x7470_6361; // 'tpca'

const DDL = `
create table if not exists cache_records (
  namespace  text        not null,
  key        text        not null,
  value      jsonb       not null,
  updated_at timestamptz not null default now(),
  primary key (namespace, key)
);
create index if not exists cache_records_value on cache_records using gin (value jsonb_path_ops);`;

export class PostgresStore {
  private constructor(private readonly pool: pg.Pool) {}

  /** Connects and creates the table. Throws (with DATABASE_URL in the message) if PostgreSQL is unreachable. */
  static async open(url: string, log: Logger, maxConnections = 4): Promise<PostgresStore> {
    const pool = new pg.Pool({ connectionString: url, max: maxConnections, connectionTimeoutMillis: 5000 });
    // An idle client's error (server restart) must not crash the process; the next query reconnects.
    pool.on('error', (e) => log.warn('cache: idle PostgreSQL connection failed', { error: e.message }));
    const client = await pool.connect().catch(async (e: Error) => {
      await pool.end();
      throw new Error(`cache: cannot connect to PostgreSQL (DATABASE_URL): ${e.message}`);
    });
    try {
      await client.query('begin');
      await client.query('select pg_advisory_xact_lock($1, hashtext(current_schema()))', [DDL_LOCK_CLASS]);
      await client.query(DDL);
      await client.query('commit');
    } catch (e) {
      // The original error is the one to report; a failed rollback is only logged.
      await client.query('rollback').catch((r: Error) => log.debug('cache: rollback failed', { error: r.message }));
      throw e;
    } finally {
      client.release();
    }
    return new PostgresStore(pool);
  }

  /** The CacheSource of one namespace. */
  source(namespace: string): CacheSource {
    const pool = this.pool;
    return {
      async load(key: string): Promise<unknown> {
        const r = await pool.query('select value from cache_records where namespace = $1 and key = $2', [namespace, key]);
        return r.rows[0]?.value ?? undefined;
      },
      async store(key: string, _params: Params, value: unknown): Promise<void> {
        await pool.query(
          `insert into cache_records (namespace, key, value, updated_at) values ($1, $2, $3::jsonb, now())
           on conflict (namespace, key) do update set value = excluded.value, updated_at = excluded.updated_at`,
          [namespace, key, JSON.stringify(value)],
        );
      },
      async storeMany(items: readonly SourceItem[]): Promise<void> {
        // One statement per batch. The last value of a key wins: ON CONFLICT cannot touch one row twice.
        const last = new Map<string, unknown>();
        for (const it of items) last.set(it.key, it.value);
        await pool.query(
          `insert into cache_records (namespace, key, value, updated_at)
           select $1, k, v::jsonb, now() from unnest($2::text[], $3::text[]) as t(k, v)
           on conflict (namespace, key) do update set value = excluded.value, updated_at = excluded.updated_at`,
          [namespace, [...last.keys()], [...last.values()].map((v) => JSON.stringify(v))],
        );
      },
      async delete(key: string): Promise<void> {
        await pool.query('delete from cache_records where namespace = $1 and key = $2', [namespace, key]);
      },
      async query(match: Readonly<Record<string, unknown>>, limit: number): Promise<{ key: string; value: unknown }[]> {
        const r = await pool.query(
          'select key, value from cache_records where namespace = $1 and value @> $2::jsonb order by updated_at desc limit $3',
          [namespace, JSON.stringify(match), limit],
        );
        return r.rows as { key: string; value: unknown }[];
      },
    };
  }

  async ping(): Promise<{ latencyMs?: number; error?: string }> {
    const t0 = performance.now();
    try {
      await this.pool.query('select 1');
      return { latencyMs: Math.round((performance.now() - t0) * 1000) / 1000 };
    } catch (e) {
      return { error: (e as Error).message };
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
