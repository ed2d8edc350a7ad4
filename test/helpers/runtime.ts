// Starts the real runtime in-process (real workers, real uWS, the machine's PostgreSQL) on a free port.
//
// Each runtime gets its own PostgreSQL schema (search_path via the connection string) and its
// own data directory, so test files never see each other's rows; both are removed at stop().
// createDeployment(TIMESCALE_URL) makes the same on the TimescaleDB test server.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type Config, loadConfig } from '../../src/config.js';
import { Supervisor } from '../../src/actors/supervisor/supervisor.js';
import type { Scope } from '../../src/auth/identity.js';
import { openKeyStore } from '../../src/auth/key-store.js';

export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** The TimescaleDB test server that ../shared/timescaledb/setup.sh starts; .ci/run exports its `test` database. */
export const TIMESCALE_URL = process.env.TIMESCALE_URL ?? 'postgres://postgres@127.0.0.1:5433/test';

export interface Runtime {
  sup: Supervisor;
  cfg: Config;
  http: string;
  ws: string;
  schema: string;
  /** A pool on this runtime's schema, for assertions on stored rows. */
  db: pg.Pool;
  get<T = unknown>(path: string): Promise<{ status: number; body: T }>;
  /** The admin key the runtime made at its first start (DATA_DIR/admin-key); '' with AUTH=off. */
  adminKey: string;
  /** `{ 'x-api-key': adminKey }`, for requests that write. */
  admin: Record<string, string>;
  /** Creates an API key in the runtime's store and waits until the front accepts it. */
  createKey(name: string, scopes: Scope[], user?: string): Promise<string>;
  stop(): Promise<void>;
}

export type Overrides = Parameters<typeof loadConfig>[1];

/**
 * A fresh schema and data directory on `serverUrl` (default DATABASE_URL); pass the same
 * deployment to startRuntime again for a restart of the same deployment.
 *
 * On a server that preloads TimescaleDB the deployment's search_path is `<schema>, public`, with
 * the extension created once in `public`. The extension is per database and lives in exactly
 * one schema: left to the first migration, it would land in that test's schema (the first of
 * its search_path), every other schema would miss create_hypertable and time_bucket, and
 * dropping that schema would drop the extension for the whole database. Plain servers keep
 * search_path = `<schema>` alone, so nothing in `public` can stand in for a missing table.
 */
export async function createDeployment(serverUrl: string = DATABASE_URL): Promise<{ schema: string; url: string; dataDir: string; drop(): Promise<void> }> {
  const schema = `tp_rt_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const variable = serverUrl === TIMESCALE_URL ? 'TIMESCALE_URL' : 'DATABASE_URL';
  const admin = new pg.Client(serverUrl);
  await admin.connect().catch((e: Error) => {
    throw new Error(`PostgreSQL unreachable at ${variable}=${serverUrl}: ${e.message}${variable === 'TIMESCALE_URL' ? ' (start it with ../shared/timescaledb/setup.sh)' : ''}`);
  });
  let searchPath = schema;
  try {
    const preload = (await admin.query<{ on: boolean }>(
      "select current_setting('shared_preload_libraries') ~ '(^|[\\s,])timescaledb($|[\\s,])' as on")).rows[0].on;
    if (preload) {
      await createExtensionInPublic(admin);
      searchPath = `${schema},public`;
    }
    await admin.query(`create schema ${schema}`);
  } finally {
    await admin.end();
  }
  const url = schemaUrl(schema, serverUrl, searchPath);
  const dataDir = mkdtempSync(join(tmpdir(), 'tickplant-rt-'));
  return {
    schema,
    url,
    dataDir,
    async drop() {
      const c = new pg.Client(serverUrl);
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** `create extension … schema public` once per database; two test files may race to it. */
async function createExtensionInPublic(admin: pg.Client): Promise<void> {
  try {
    await admin.query('create extension if not exists timescaledb schema public');
  } catch (e) {
    // 23505: a concurrent create won the race inside pg_extension's unique index; it exists now.
    if ((e as { code?: string }).code !== '23505') throw e;
  }
  const where = (await admin.query<{ schema: string }>(
    "select extnamespace::regnamespace::text as schema from pg_extension where extname = 'timescaledb'")).rows[0]?.schema;
  if (where !== 'public') {
    throw new Error(`the timescaledb extension of ${admin.database} is in schema ${where}, not public: drop it there (drop extension timescaledb cascade) so tests can share it`);
  }
}

export function schemaUrl(schema: string, serverUrl: string = DATABASE_URL, searchPath: string = schema): string {
  return `${serverUrl}${serverUrl.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${searchPath}`)}`;
}

export async function startRuntime(overrides: Overrides = {}, deployment?: Awaited<ReturnType<typeof createDeployment>>): Promise<Runtime> {
  const dep = deployment ?? (await createDeployment());
  const cfg = loadConfig({}, {
    port: 0, host: '127.0.0.1', logLevel: 'warn', simSeed: 42, databaseUrl: dep.url, dataDir: dep.dataDir, ...overrides,
  });
  const sup = new Supervisor(cfg);
  await sup.start();
  const http = `http://127.0.0.1:${sup.port}`;
  const db = new pg.Pool({ connectionString: dep.url, max: 2 });
  let stopped: Promise<void> | undefined;
  const keyFile = join(dep.dataDir, 'admin-key');
  const adminKey = existsSync(keyFile) ? readFileSync(keyFile, 'utf8').trim() : '';
  return {
    adminKey,
    admin: { 'x-api-key': adminKey },
    async createKey(name, scopes, user) {
      const store = await openKeyStore(cfg, { databaseUrl: dep.url });
      try {
        const { key } = await store.create({ name, scopes, user });
        // The front reloads its keys every 2 s.
        for (let i = 0; i < 100; i++) {
          const r = await fetch(`${http}/symbols`, { headers: { 'x-api-key': key } });
          if (r.status === 200) return key;
          await sleep(100);
        }
        throw new Error(`key ${name} not accepted by the front within 10 s`);
      } finally {
        await store.close();
      }
    },
    sup,
    cfg,
    http,
    ws: `ws://127.0.0.1:${sup.port}/ws`,
    schema: dep.schema,
    db,
    async get<T>(path: string) {
      const r = await fetch(http + path);
      return { status: r.status, body: (await r.json()) as T };
    },
    stop() {
      stopped ??= (async () => {
        await sup.stop();
        await db.end();
        if (!deployment) await dep.drop(); // a shared deployment is dropped by its owner
      })();
      return stopped;
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits (up to 15 s) until the runtime's writer has committed `rows` rows; resolves with that /stats body. */
export async function untilCommitted<S extends { writer: { rowsCommitted: number } }>(rt: Runtime, rows: number): Promise<S> {
  let s: S | undefined;
  for (let i = 0; i < 300; i++) {
    s = (await rt.get<S>('/stats')).body;
    if (s.writer.rowsCommitted >= rows) return s;
    await sleep(50);
  }
  throw new Error(`only ${s?.writer.rowsCommitted} of ${rows} rows committed: ${JSON.stringify(s?.writer)}`);
}
