// Starting the measured servers as child processes: tickplant itself (the built dist) and the baselines.
//
// Every server runs in its own process so its CPU can be read from /proc (report.ts) and it
// can be pinned to a core apart from the load generator (`taskset -c`).

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const READY_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 30_000;

export interface ServerProcess {
  name: string;
  pid: number;
  port: number;
  child: ChildProcess;
  /** Everything it printed (last 64 KiB), for a failure message. */
  output(): string;
  stop(): Promise<number | null>;
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  /** A line matching this (group 1 = port) means the server is ready. */
  ready: RegExp;
  /** Pin to these cores with taskset, e.g. '0'. */
  cpus?: string;
}

export async function spawnServer(o: SpawnOptions): Promise<ServerProcess> {
  const [cmd, args] = o.cpus ? ['taskset', ['-c', o.cpus, o.command, ...o.args]] : [o.command, o.args];
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let resolveReady: (port: number) => void = () => {};
  const ready = new Promise<number>((r) => (resolveReady = r));
  const onData = (b: Buffer) => {
    out = (out + b.toString()).slice(-65536);
    const m = o.ready.exec(out);
    if (m) resolveReady(Number(m[1]));
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`${o.name} exited (code ${code}) before it was ready:\n${out.slice(-4000)}`);
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${o.name} not ready after ${READY_TIMEOUT_MS} ms:\n${out.slice(-4000)}`)), READY_TIMEOUT_MS);
  });
  try {
    const port = await Promise.race([ready, exited, timeout]);
    exited.catch(() => {}); // after readiness an exit is reported by stop() instead
    return {
      name: o.name,
      pid: child.pid!,
      port,
      child,
      output: () => out,
      async stop() {
        if (child.exitCode !== null) return child.exitCode;
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        const [code] = await once(child, 'exit');
        clearTimeout(t);
        return code as number | null;
      },
    };
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What every tickplant a benchmark starts differs in from a default install, also the ones a
 * scenario spawns itself (under --cpu-prof). The per-address WebSocket limit exists so that one
 * client cannot take the server's connections; here every connection comes from the one load
 * generator on 127.0.0.1 (up to 10,000 of them), so the ceiling that matters is the descriptor
 * limit run.ts sets. The message rate limit stays at its default: no generator sends more than
 * 20 messages per connection, all at its start (keepup's subscriptions), within the burst.
 */
export const TICKPLANT_BENCH_ENV: Readonly<Record<string, string>> = { WS_MAX_CONNECTIONS_PER_IP: '20000' };

/**
 * The real tickplant main job from `dist/` (run.ts builds it first), configured by environment
 * variables exactly as an operator would. `env` adds to or overrides the defaults below.
 * Without DATA_DIR it gets a directory of its own, removed at stop: even with PERSIST=false
 * tickplant keeps its API keys and writes the first-start admin key there, and the default
 * (./data) is the checkout's, which a developer's own tickplant uses.
 */
export async function startTickplant(env: Record<string, string>, cpus?: string): Promise<ServerProcess> {
  if (!existsSync(`${ROOT}dist/src/main.js`)) throw new Error('dist/ is missing: run `npm run build` (npm run bench does)');
  const ownDir = env.DATA_DIR === undefined ? mkdtempSync(join(tmpdir(), 'tickplant-bench-')) : undefined;
  const removeOwnDir = () => {
    if (ownDir) rmSync(ownDir, { recursive: true, force: true });
  };
  let server: ServerProcess;
  try {
    server = await spawnServer({
      name: 'tickplant',
      command: process.execPath,
      args: ['dist/src/main.js'],
      env: {
        WEBSOCKET_PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info', // the readiness line is logged at info
        DATABASE_URL,
        REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
        ...TICKPLANT_BENCH_ENV,
        ...(ownDir ? { DATA_DIR: ownDir } : {}),
        ...env,
      },
      ready: /listening on http:\/\/[^:]+:(\d+)/,
      cpus,
    });
  } catch (e) {
    removeOwnDir();
    throw e;
  }
  const stop = server.stop;
  return {
    ...server,
    async stop() {
      try {
        return await stop();
      } finally {
        removeOwnDir();
      }
    },
  };
}

/** The first-start admin key tickplant wrote to `dataDir` (AUTH=writes, the default, needs it for writes). */
export function readAdminKey(dataDir: string): string {
  const file = join(dataDir, 'admin-key');
  let key: string;
  try {
    key = readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new Error(`no admin API key in ${file} (${(e as Error).message}): tickplant writes it at its first start with AUTH on, when its key store holds no admin key`);
  }
  if (!key) throw new Error(`${file} is empty`);
  return key;
}

/** A baseline program in bench/baselines/, run with tsx; it prints `listening <port>` when ready. */
export function startBaseline(file: string, args: string[], env: Record<string, string> = {}, cpus?: string): Promise<ServerProcess> {
  return spawnServer({
    name: file,
    command: process.execPath,
    args: ['--import', 'tsx', `bench/baselines/${file}`, ...args],
    env,
    ready: /listening (\d+)/,
    cpus,
  });
}

export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A fresh PostgreSQL schema for one scenario's tickplant (its URL sets search_path); drop() removes it. */
export async function benchSchema(name: string): Promise<{ schema: string; url: string; drop(): Promise<void> }> {
  const schema = `tp_bench_${name.replace(/[^a-z0-9_]/gi, '_')}_${process.pid}`;
  const admin = new pg.Client(DATABASE_URL);
  await admin.connect();
  await admin.query(`drop schema if exists ${schema} cascade; create schema ${schema}`);
  await admin.end();
  const url = `${DATABASE_URL}${DATABASE_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  return {
    schema,
    url,
    async drop() {
      const c = new pg.Client(DATABASE_URL);
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
    },
  };
}

/**
 * Runs a one-shot baseline program in bench/baselines/ to completion and returns the JSON of its
 * `result {…}` line (each such program times its own work and reports its own CPU).
 */
export function runBaseline<T = Record<string, number>>(file: string, args: string[], env: Record<string, string> = {}, cpus?: string): Promise<T> {
  return runToResult<T>(file, [process.execPath, '--import', 'tsx', `bench/baselines/${file}`, ...args], env, cpus);
}

/**
 * The same for a baseline that starts worker threads: run from the built `dist/` (tsx does not
 * reach into workers on Node 20), which is also how tickplant's own actors run.
 */
export function runBuiltBaseline<T = Record<string, number>>(file: string, args: string[], env: Record<string, string> = {}, cpus?: string): Promise<T> {
  const js = `dist/bench/baselines/${file.replace(/\.ts$/, '.js')}`;
  if (!existsSync(`${ROOT}${js}`)) throw new Error(`${js} is missing: run \`npm run build\` (npm run bench does)`);
  return runToResult<T>(file, [process.execPath, js, ...args], env, cpus);
}

async function runToResult<T>(file: string, base: string[], env: Record<string, string>, cpus?: string): Promise<T> {
  const [cmd, ...rest] = cpus ? ['taskset', '-c', cpus, ...base] : base;
  const child = spawn(cmd, rest, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-65536)));
  child.stderr!.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-65536)));
  const [code] = await once(child, 'exit');
  const m = /^result (\{.*\})$/m.exec(out);
  if (code !== 0 || !m) throw new Error(`${file} failed (exit ${code}):\n${out.slice(-4000)}`);
  return JSON.parse(m[1]) as T;
}
