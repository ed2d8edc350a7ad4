// Starts the real runtime in-process (real workers, real uWS, the machine's PostgreSQL) on a free port.
//
// Each runtime gets its own PostgreSQL schema (search_path via the connection string) and its
// own data directory, so test files never see each other's rows; both are removed at stop().
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type Config, loadConfig } from '../../src/config.js';
import { Supervisor } from '../../src/actors/supervisor/supervisor.js';

export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface Runtime {
  sup: Supervisor;
  cfg: Config;
  http: string;
  ws: string;
  schema: string;
  /** A pool on this runtime's schema, for assertions on stored rows. */
  db: pg.Pool;
  get<T = unknown>(path: string): Promise<{ status: number; body: T }>;
  stop(): Promise<void>;
}

export type Overrides = Parameters<typeof loadConfig>[1];

/** A fresh schema and data directory; `keep` reuses them (a restart of the same deployment). */
export async function createDeployment(): Promise<{ schema: string; url: string; dataDir: string; drop(): Promise<void> }> {
  const schema = `tp_rt_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client(DATABASE_URL);
  await admin.connect().catch((e: Error) => {
    throw new Error(`PostgreSQL unreachable at DATABASE_URL=${DATABASE_URL}: ${e.message}`);
  });
  await admin.query(`create schema ${schema}`);
  await admin.end();
  const url = schemaUrl(schema);
  const dataDir = mkdtempSync(join(tmpdir(), 'tickplant-rt-'));
  return {
    schema,
    url,
    dataDir,
    async drop() {
      const c = new pg.Client(DATABASE_URL);
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function schemaUrl(schema: string): string {
  return `${DATABASE_URL}${DATABASE_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
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
  return {
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
