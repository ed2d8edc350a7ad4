// The tickplant the fuzzer starts when given no --url: the production build as a child process, on a free port and a temp DATA_DIR.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../test/helpers/main-process.js';
import { FuzzSetupError } from './errors.js';

/** A JWT_SECRET for the fuzzed server (HS256 needs 32 characters or more), so the fuzzer can sign tokens. */
export function fuzzJwtSecret(seed: number): string {
  return `tickplant-fuzz-secret-${seed}-${'s'.repeat(32)}`;
}

/** Settings of a fuzzed server; the tests start theirs with the same. */
export function fuzzEnv(dataDir: string, port: number, seed: number): Record<string, string> {
  return {
    JWT_SECRET: fuzzJwtSecret(seed),
    PERSIST: 'false',
    DATA_DIR: dataDir,
    WEBSOCKET_PORT: String(port),
    HOST: '127.0.0.1',
    // Modest: every fuzzing connection that subscribes receives the stream too, on the same 2 cores.
    SIM_UPDATES_PER_SECOND: '10',
    SIM_SEED: String(seed),
    // The limiter still runs on every /api/ request; at its default (1,000 an hour per address)
    // nearly every fuzz request would be a 429 and never reach validation.
    RATE_LIMIT_REQUESTS: '1000000000',
  };
}

/** The admin key the server writes on first start, if this version does. */
export function readAdminKey(dataDir: string): string | undefined {
  const path = join(dataDir, 'admin-key');
  if (!existsSync(path)) return undefined;
  const key = readFileSync(path, 'utf8').trim();
  return key === '' ? undefined : key;
}

export interface StartedServer {
  url: string;
  dataDir: string;
  apiKey?: string;
  /** The JWT_SECRET it runs with (undefined: none, JWTs are refused). */
  jwtSecret?: string;
  /** Why and when the process exited, once it has. */
  died(): Death | undefined;
  /** Lines the server logged at error level. */
  errorLines(): string[];
  /** When the server first logged that an actor crashed (Date.now() on arrival). */
  crashLoggedAt(): number | undefined;
  /** The last lines of its output. */
  tail(): string;
  /** SIGTERM, then SIGKILL after 50 s; removes DATA_DIR. */
  stop(): Promise<{ code: number | null; signal: string | null; ms: number }>;
}

export interface Death {
  reason: string;
  /** Date.now() when it was seen. */
  at: number;
}

const TAIL_BYTES = 20_000;
const ERROR_LINE = /^\S+ error /;

export interface StartOptions {
  seed: number;
  /** Run `npm run -s build` first (default true). */
  build?: boolean;
  /** Another command line, e.g. the sources through tsx; default: node dist/src/main.js. */
  command?: [string, string[]];
  env?: Record<string, string>;
  log?: (line: string) => void;
}

export async function startTickplant(o: StartOptions): Promise<StartedServer> {
  const log = o.log ?? (() => undefined);
  if (o.build ?? true) {
    log('building (npm run -s build)');
    const b = spawnSync('npm', ['run', '-s', 'build'], { stdio: 'inherit' });
    if (b.status !== 0) throw new FuzzSetupError(`npm run build failed (exit ${b.status})`);
  }
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'tickplant-fuzz-'));
  const env: NodeJS.ProcessEnv = { ...process.env, ...fuzzEnv(dataDir, port, o.seed), ...o.env };
  // The fuzzer clears caches (DELETE /clear) and writes at random: never on a database or Redis of the caller's.
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  delete env.TICKPLANT_CONFIG;
  const [cmd, args] = o.command ?? [process.execPath, ['dist/src/main.js']];
  const child: ChildProcess = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  let partial = '';
  const errors: string[] = [];
  let crashLoggedAt: number | undefined;
  const onData = (d: Buffer) => {
    const text = d.toString();
    tail = (tail + text).slice(-TAIL_BYTES);
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) {
      if (!ERROR_LINE.test(l)) continue;
      if (errors.length < 100) errors.push(l);
      if (/crashed/.test(l)) crashLoggedAt ??= Date.now();
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let exit: Death | undefined;
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => {
    exit = { reason: `the server process exited (code ${code}, signal ${signal})`, at: Date.now() };
    resolve({ code, signal });
  }));

  const url = `http://127.0.0.1:${port}`;
  const until = Date.now() + 60_000;
  for (;;) {
    if (exit) throw new FuzzSetupError(`${exit.reason} during start:\n${tail}`);
    if (Date.now() > until) {
      child.kill('SIGKILL');
      throw new FuzzSetupError(`tickplant did not answer /health within 60 s:\n${tail}`);
    }
    const ok = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) }).then((r) => r.status === 200, () => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  // The key file is written during start; give a slow first start a moment.
  let apiKey = readAdminKey(dataDir);
  for (let i = 0; i < 10 && apiKey === undefined; i++) {
    await new Promise((r) => setTimeout(r, 100));
    apiKey = readAdminKey(dataDir);
  }
  log(`tickplant pid ${child.pid} at ${url}, DATA_DIR ${dataDir}, admin key ${apiKey ? 'found' : 'not found (unauthenticated requests only)'}`);

  return {
    url, dataDir, apiKey, jwtSecret: env.JWT_SECRET || undefined,
    died: () => exit,
    errorLines: () => errors,
    crashLoggedAt: () => crashLoggedAt,
    tail: () => tail,
    async stop() {
      const t0 = Date.now();
      if (!exit) child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), 50_000);
      const r = await exited;
      clearTimeout(kill);
      rmSync(dataDir, { recursive: true, force: true });
      return { ...r, ms: Date.now() - t0 };
    },
  };
}
