// Vitest global setup: before any test file, the test databases exist and PostgreSQL, Redis and TimescaleDB answer.
//
// `npm test` needs only a PostgreSQL server and a Redis server: a missing test database is
// created here, and a TimescaleDB server that is not running is started with the machines'
// setup script when it is beside the checkout (../shared/timescaledb/setup.sh). An unreachable
// service fails the whole run once, with one message naming the variable to set, instead of
// every integration file failing (or skipping) on its own.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { redactUrl as redact } from '../src/log.js';

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_TIMESCALE_URL = 'postgres://postgres@127.0.0.1:5433/test';
/** Starts a TimescaleDB test server on 127.0.0.1:5433 on the project's machines (idempotent). */
export const TIMESCALE_SETUP = fileURLToPath(new URL('../../shared/timescaledb/setup.sh', import.meta.url));
const CONNECT_TIMEOUT_MS = 5000;

/** PostgreSQL's SQLSTATEs met here. */
const INVALID_CATALOG_NAME = '3D000'; // the database does not exist
const DUPLICATE_DATABASE = '42P04'; // another run created it first
const UNIQUE_VIOLATION = '23505'; // the same race, lost inside pg_database's unique index


const messageOf = (e: unknown): string => (e instanceof Error ? e.message || (e as { code?: string }).code || e.name : String(e));

/** One line, no stack: the message is all the run's output has to say. */
function setupError(message: string): Error {
  const e = new Error(message);
  e.stack = `Error: ${message}`;
  return e;
}

const unreachable = (databaseUrl: string, cause: unknown, variable: string): Error =>
  setupError(`PostgreSQL is unreachable at ${variable}=${redact(databaseUrl)} (${messageOf(cause)}): start PostgreSQL or set ${variable}`);

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
export async function ensureDatabase(databaseUrl: string, variable = 'DATABASE_URL'): Promise<'created' | 'exists'> {
  let target: pg.Client;
  try {
    target = await connect(databaseUrl);
  } catch (e) {
    if ((e as { code?: string }).code !== INVALID_CATALOG_NAME) throw unreachable(databaseUrl, e, variable);
    const url = new URL(databaseUrl);
    const name = decodeURIComponent(url.pathname.slice(1));
    url.pathname = '/postgres';
    let admin: pg.Client;
    try {
      admin = await connect(url.toString());
    } catch (adminError) {
      throw unreachable(url.toString(), adminError, variable);
    }
    try {
      await admin.query(`create database "${name.replace(/"/g, '""')}"`);
      return 'created';
    } catch (createError) {
      const code = (createError as { code?: string }).code;
      if (code === DUPLICATE_DATABASE || code === UNIQUE_VIOLATION) return 'exists';
      throw setupError(`cannot create the test database "${name}" of ${variable}=${redact(databaseUrl)} (${messageOf(createError)}): create it, or set ${variable} to one that exists`);
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

/**
 * TIMESCALE_URL's database exists on a server with the timescaledb extension. When nothing
 * answers there and `setup` exists (the machines' TimescaleDB test server), it is started first.
 */
export async function ensureTimescale(timescaleUrl: string, setup = TIMESCALE_SETUP): Promise<'created' | 'exists'> {
  try {
    return await ensureDatabase(timescaleUrl, 'TIMESCALE_URL');
  } catch (e) {
    if (!existsSync(setup)) {
      throw setupError(`TimescaleDB is unreachable at TIMESCALE_URL=${redact(timescaleUrl)} (${messageOf(e)}): start one (e.g. docker run -p 5433:5432 -e POSTGRES_HOST_AUTH_METHOD=trust timescale/timescaledb:2.28.3-pg15) or set TIMESCALE_URL`);
    }
    const r = spawnSync('bash', [setup], { encoding: 'utf8', timeout: 180_000 });
    if (r.status !== 0) throw setupError(`TimescaleDB is unreachable at TIMESCALE_URL=${redact(timescaleUrl)} and ${setup} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
    return ensureDatabase(timescaleUrl, 'TIMESCALE_URL');
  }
}

/** The services of the test suite, from `env` with the machine's defaults. */
export async function ensureServices(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  await ensureDatabase(env.DATABASE_URL || DEFAULT_DATABASE_URL);
  await checkRedis(env.REDIS_URL || DEFAULT_REDIS_URL);
  await ensureTimescale(env.TIMESCALE_URL || DEFAULT_TIMESCALE_URL);
}

export default async function globalSetup(): Promise<void> {
  await ensureServices();
}
