// Vitest global setup: before any test file, DATABASE_URL's database exists and PostgreSQL and Redis answer.
//
// `npm test` needs only a PostgreSQL server and a Redis server: a missing test database is
// created here. An unreachable service fails the whole run once, with one message naming the
// variable to set, instead of every integration file failing (or skipping) on its own.

import { Redis } from 'ioredis';
import pg from 'pg';

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
const CONNECT_TIMEOUT_MS = 5000;

/** PostgreSQL's SQLSTATEs met here. */
const INVALID_CATALOG_NAME = '3D000'; // the database does not exist
const DUPLICATE_DATABASE = '42P04'; // another run created it first
const UNIQUE_VIOLATION = '23505'; // the same race, lost inside pg_database's unique index

/** The URL with its password hidden, for messages. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message || (e as { code?: string }).code || e.name : String(e));

/** One line, no stack: the message is all the run's output has to say. */
function setupError(message: string): Error {
  const e = new Error(message);
  e.stack = `Error: ${message}`;
  return e;
}

const unreachable = (databaseUrl: string, cause: unknown): Error =>
  setupError(`PostgreSQL is unreachable at DATABASE_URL=${redact(databaseUrl)} (${messageOf(cause)}): start PostgreSQL or set DATABASE_URL`);

/** Opens a client on `url`, or rejects with pg's error (code 3D000 when the database is missing). */
async function connect(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  c.on('error', () => undefined); // a connection lost after connect() surfaces as the next query's rejection
  await c.connect(); // on failure pg has already closed the socket: nothing to end
  return c;
}

/**
 * Creates DATABASE_URL's database when it does not exist, through the server's `postgres`
 * maintenance database. Resolves 'created' or 'exists' (also when a concurrent run created it
 * first); rejects with one line naming DATABASE_URL when the server cannot be reached.
 */
export async function ensureDatabase(databaseUrl: string): Promise<'created' | 'exists'> {
  let target: pg.Client;
  try {
    target = await connect(databaseUrl);
  } catch (e) {
    if ((e as { code?: string }).code !== INVALID_CATALOG_NAME) throw unreachable(databaseUrl, e);
    const url = new URL(databaseUrl);
    const name = decodeURIComponent(url.pathname.slice(1));
    url.pathname = '/postgres';
    let admin: pg.Client;
    try {
      admin = await connect(url.toString());
    } catch (adminError) {
      throw unreachable(url.toString(), adminError);
    }
    try {
      await admin.query(`create database "${name.replace(/"/g, '""')}"`);
      return 'created';
    } catch (createError) {
      const code = (createError as { code?: string }).code;
      if (code === DUPLICATE_DATABASE || code === UNIQUE_VIOLATION) return 'exists';
      throw setupError(`cannot create the test database "${name}" of DATABASE_URL=${redact(databaseUrl)} (${messageOf(createError)}): create it, or set DATABASE_URL to one that exists`);
    } finally {
      await admin.end();
    }
  }
  await target.end();
  return 'exists';
}

/** Resolves once Redis at `redisUrl` answers PING; rejects with one line naming REDIS_URL. */
export async function checkRedis(redisUrl: string): Promise<void> {
  const r = new Redis(redisUrl, {
    lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: CONNECT_TIMEOUT_MS,
  });
  // connect() rejects with only "Connection is closed."; the socket's error says why.
  let cause: unknown;
  r.on('error', (e: Error) => (cause ??= e));
  try {
    await r.connect();
    await r.ping();
  } catch (e) {
    throw setupError(`Redis is unreachable at REDIS_URL=${redact(redisUrl)} (${messageOf(cause ?? e)}): start redis-server or set REDIS_URL`);
  } finally {
    r.disconnect();
  }
}

/** Both services of the test suite, from `env` with the machine's defaults. */
export async function ensureServices(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  await ensureDatabase(env.DATABASE_URL || DEFAULT_DATABASE_URL);
  await checkRedis(env.REDIS_URL || DEFAULT_REDIS_URL);
}

export default async function globalSetup(): Promise<void> {
  await ensureServices();
}
