// API keys in PostgreSQL: table api_keys (migration 4), one row per key, revoked rows kept.

import pg from 'pg';
import type { Logger } from '../log.js';
import { type MigrateOptions, migrate } from '../store/migrations.js';
import { type ApiKeyRecord, type KeyStore, generateKey, hashKey } from './api-keys.js';
import type { Scope } from './identity.js';
import { nameTaken, validateKeyRequest } from './key-store-rules.js';

/** A reader polls every few seconds and the CLI does one thing: two connections are plenty. */
const POOL_MAX = 2;
/** A database that does not answer is reported, not waited for: start-up and the CLI go on. */
const CONNECT_TIMEOUT_MS = 3000;
/** 8 hex digits collide rarely, but not never: a fresh id after a collision. */
const ID_ATTEMPTS = 5;

const UNIQUE_VIOLATION = '23505';
const ACTIVE_NAME_INDEX = 'api_keys_active_name_key';

interface Row {
  id: string;
  name: string;
  user_id: string;
  scopes: Scope[];
  key_hash: string;
  created_at: Date;
  revoked_at: Date | null;
}

const COLUMNS = 'id, name, user_id, scopes, key_hash, created_at, revoked_at';

const toRecord = (r: Row): ApiKeyRecord => ({
  id: r.id, name: r.name, user: r.user_id, scopes: r.scopes, hash: r.key_hash,
  createdAt: r.created_at.toISOString(), ...(r.revoked_at ? { revokedAt: r.revoked_at.toISOString() } : {}),
});

export class PgKeyStore implements KeyStore {
  private constructor(private readonly pool: pg.Pool) {}

  /**
   * Connects and migrates: the table's one definition is its migration, and running the
   * migrations here (serialized with the writer's by their advisory lock; nothing to do once
   * applied) lets the CLI work before tickplant ever started on this database.
   */
  static async open(databaseUrl: string, migration: MigrateOptions, log?: Logger): Promise<PgKeyStore> {
    const pool = new pg.Pool({ connectionString: databaseUrl, max: POOL_MAX, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
    // An idle connection the server drops must not become an uncaught 'error' event; the next query reconnects.
    pool.on('error', (e) => log?.warn('API key store: PostgreSQL connection lost', { error: e.message }));
    try {
      await migrate(pool, migration);
    } catch (e) {
      await pool.end();
      throw e;
    }
    return new PgKeyStore(pool);
  }

  async create(opts: { name: string; user?: string; scopes: Scope[] }): Promise<{ key: string; record: ApiKeyRecord }> {
    const { name, user, scopes } = validateKeyRequest(opts);
    for (let attempt = 1; ; attempt++) {
      const { id, key } = generateKey();
      try {
        const r = await this.pool.query<Row>(
          `insert into api_keys (id, name, user_id, scopes, key_hash) values ($1, $2, $3, $4, $5) returning ${COLUMNS}`,
          [id, name, user, scopes, hashKey(key)]);
        return { key, record: toRecord(r.rows[0]) };
      } catch (e) {
        const err = e as { code?: string; constraint?: string };
        if (err.code !== UNIQUE_VIOLATION) throw e;
        if (err.constraint === ACTIVE_NAME_INDEX) throw nameTaken(name);
        if (attempt >= ID_ATTEMPTS) throw e; // ids keep colliding: something else is wrong
      }
    }
  }

  async list(): Promise<ApiKeyRecord[]> {
    return (await this.pool.query<Row>(`select ${COLUMNS} from api_keys order by created_at, id`)).rows.map(toRecord);
  }

  async revoke(idOrName: string): Promise<boolean> {
    // Names never look like ids (validateKeyRequest), so the two matches cannot be different keys.
    const r = await this.pool.query(
      'update api_keys set revoked_at = now() where revoked_at is null and (id = $1 or name = $1)', [idOrName]);
    return (r.rowCount ?? 0) > 0;
  }

  async active(): Promise<ApiKeyRecord[]> {
    return (await this.pool.query<Row>(`select ${COLUMNS} from api_keys where revoked_at is null order by created_at, id`)).rows.map(toRecord);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
