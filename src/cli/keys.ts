// API keys, for operators. Run: `npm run keys -- create --name <name> --scopes read,write,admin [--user <user>] | list | revoke <id-or-name>`.
//
// create: makes a key and prints it once (with its id, name, user and scopes); only its hash
//   is stored. list: every key, revoked ones included, never a hash or a key. revoke: the
//   active key with that id or name stops working at the servers' next key poll.
// The store is tickplant's own, from the same settings (env, config/): PERSIST=false → the
// file DATA_DIR/api-keys.json; DATABASE_URL → that database; neither → the embedded
// PostgreSQL of DATA_DIR, reached on EMBEDDED_PG_PORT while tickplant runs, else started
// for this command (holding DATA_DIR's lock, so tickplant cannot start meanwhile) and stopped.
// Exit: 0 done, 1 failed (store unreachable, name taken, no such key), 2 bad arguments.

import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { ApiKeyRecord, KeyStore } from '../auth/api-keys.js';
import { ApiKeyError, openKeyStore, validateKeyRequest } from '../auth/key-store.js';
import type { Scope } from '../auth/identity.js';
import { type Config, loadConfig } from '../config.js';
import { StartupError, TickplantError } from '../errors.js';
import { configureLog, logger, redactUrl } from '../log.js';
import { type DataDirLock, lockDataDir } from '../store/data-dir-lock.js';
import { EMBEDDED_PASSWORD, EMBEDDED_USER, startEmbeddedPostgres } from '../store/embedded.js';

const USAGE = 'usage: npm run keys -- create --name <name> --scopes read[,write][,admin] [--user <user>] | list | revoke <id-or-name>';
/** The database startEmbeddedPostgres creates and names in its URL. */
const EMBEDDED_DATABASE = 'tickplant';

type Command =
  | { command: 'create'; name: string; scopes: Scope[]; user: string }
  | { command: 'list' }
  | { command: 'revoke'; target: string }
  | { command: 'help' };

/** A usage mistake: one line, exit 2. */
class UsageError extends Error {}

function parseArgs(argv: string[]): Command {
  const [command, ...rest] = argv;
  if (command === undefined) throw new UsageError('no command given');
  if (command === 'help' || command === '--help' || command === '-h') return { command: 'help' };
  if (command === 'list') {
    if (rest.length > 0) throw new UsageError(`list takes no arguments, got "${rest[0]}"`);
    return { command: 'list' };
  }
  if (command === 'revoke') {
    if (rest.length !== 1 || rest[0].startsWith('-')) throw new UsageError('revoke takes one key id or name');
    return { command: 'revoke', target: rest[0] };
  }
  if (command !== 'create') throw new UsageError(`unknown command "${command.slice(0, 40)}"`);
  const opts = new Map<string, string>();
  for (let i = 0; i < rest.length; i++) {
    const m = /^--(name|scopes|user)(?:=(.*))?$/.exec(rest[i]);
    if (!m) throw new UsageError(`unknown option "${rest[i].slice(0, 40)}" for create`);
    const value = m[2] ?? rest[++i];
    if (value === undefined || value === '' || (m[2] === undefined && value.startsWith('--'))) throw new UsageError(`--${m[1]} needs a value`);
    if (opts.has(m[1])) throw new UsageError(`--${m[1]} given twice`);
    opts.set(m[1], value);
  }
  for (const required of ['name', 'scopes']) if (!opts.has(required)) throw new UsageError(`create needs --${required}`);
  try {
    return { command: 'create', ...validateKeyRequest({ name: opts.get('name')!, user: opts.get('user'), scopes: opts.get('scopes')!.split(',') }) };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/**
 * Runs `fn` on the store tickplant uses with `cfg`; for the embedded database, reaches or
 * starts it (see the header) and stops what it started.
 */
async function withStore<T>(cfg: Config, err: (line: string) => void, fn: (store: KeyStore) => Promise<T>): Promise<T> {
  const use = async (databaseUrl?: string) => {
    const store = await openKeyStore(cfg, { databaseUrl });
    try {
      return await fn(store);
    } finally {
      await store.close();
    }
  };
  if (!cfg.persist) return use();
  if (cfg.databaseUrl) {
    try {
      return await use();
    } catch (cause) {
      throw unreachable(cause, `cannot use PostgreSQL at DATABASE_URL=${redactUrl(cfg.databaseUrl)}`, 'set DATABASE_URL as tickplant has it');
    }
  }

  let lock: DataDirLock;
  try {
    lock = lockDataDir(cfg.dataDir);
  } catch (e) {
    if (!(e instanceof StartupError) || e.code !== 'data_dir_in_use') throw e;
    // tickplant runs on DATA_DIR: its embedded server is up, and is ours to use as it is.
    const pid = /pid (\d+)/.exec(e.message)?.[1] ?? '?';
    const url = `postgres://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${cfg.embeddedPgPort}/${EMBEDDED_DATABASE}`;
    try {
      return await use(url);
    } catch (cause) {
      throw unreachable(cause,
        `tickplant (pid ${pid}) holds DATA_DIR ${path.resolve(cfg.dataDir)}, but its embedded PostgreSQL does not answer on 127.0.0.1:${cfg.embeddedPgPort}`,
        'set EMBEDDED_PG_PORT as that tickplant has it');
    }
  }
  try {
    err(`keys: tickplant is not running: starting the embedded PostgreSQL of ${path.resolve(cfg.dataDir)} for this command`);
    const db = await startEmbeddedPostgres(cfg.dataDir, cfg.embeddedPgPort, logger('embedded-pg'));
    try {
      return await use(db.url);
    } finally {
      await db.stop();
    }
  } finally {
    lock.release();
  }
}

/**
 * A failure to reach the database, said with the setting that chose it; errors of ours and
 * errors the server answered (pg.DatabaseError: it was reached) pass through as they are.
 */
function unreachable(cause: unknown, what: string, fix: string): unknown {
  if (cause instanceof TickplantError || cause instanceof pg.DatabaseError) return cause;
  return new StartupError(`${what} (${(cause as Error).message}): ${fix}`, 'keys_database_unreachable');
}

const show = (v: string | undefined): string => (v ? v : '-');
/** ISO time to the second: a listing needs no milliseconds. */
const when = (iso: string | undefined): string => (iso ? iso.replace(/\.\d{3}Z$/, 'Z') : '-');

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  '));
}

const describe = (r: ApiKeyRecord): string => `${r.id} "${r.name}" (user ${show(r.user)}, scopes ${r.scopes.join(',')})`;

/** Runs one command; resolves with the exit code. */
export async function main(
  argv: string[],
  out: (line: string) => void = (l) => process.stdout.write(l + '\n'),
  err: (line: string) => void = (l) => process.stderr.write(l + '\n'),
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  let cmd: Command;
  try {
    cmd = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(`keys: ${e.message} (${USAGE})`);
    return 2;
  }
  if (cmd.command === 'help') {
    out(USAGE);
    return 0;
  }
  try {
    const cfg = loadConfig(env);
    // The embedded server's start-up lines are noise here; its warnings are not.
    configureLog('warn', false);
    return await withStore(cfg, err, async (store) => {
      if (cmd.command === 'create') {
        const { key, record } = await store.create({ name: cmd.name, user: cmd.user, scopes: cmd.scopes });
        for (const line of table([['id', record.id], ['name', record.name], ['user', show(record.user)], ['scopes', record.scopes.join(',')], ['key', key]])) out(line);
        err('keys: the key above is shown only this once (only its SHA-256 is stored): keep it now');
        return 0;
      }
      if (cmd.command === 'list') {
        const keys = await store.list();
        if (keys.length === 0) {
          err(`keys: no API keys yet (npm run keys -- create --name <name> --scopes read)`);
          return 0;
        }
        const rows = keys.map((k) => [k.id, k.name, show(k.user), k.scopes.join(','), when(k.createdAt), when(k.revokedAt)]);
        for (const line of table([['ID', 'NAME', 'USER', 'SCOPES', 'CREATED', 'REVOKED'], ...rows])) out(line);
        return 0;
      }
      const target = (await store.active()).find((k) => k.id === cmd.target || k.name === cmd.target);
      if (!target || !(await store.revoke(target.id))) {
        err(`keys: no active key has the id or name "${cmd.target.slice(0, 70)}" (npm run keys -- list shows them)`);
        return 1;
      }
      out(`revoked ${describe(target)}`);
      return 0;
    });
  } catch (e) {
    if (e instanceof ApiKeyError && e.code === 'api_key_invalid') {
      err(`keys: ${e.message} (${USAGE})`);
      return 2;
    }
    err(`keys: ${e instanceof TickplantError ? e.message : (e as Error).message ?? String(e)}`);
    return 1;
  }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // Exit through process.exit on a signal: the 'exit' hooks then stop an embedded server this
  // command started and release DATA_DIR's lock.
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
