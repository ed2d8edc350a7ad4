// The first-start admin key: made when access control is on and no admin key exists, shown once on stdout and in DATA_DIR/admin-key (0600), never logged.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY_FILE, adminKeyBanner, bootstrapAdminKey, ensureAdminKey } from '../../src/auth/admin-key.js';
import { hashKey, isApiKey } from '../../src/auth/api-keys.js';
import { FileKeyStore } from '../../src/auth/key-store-file.js';
import { KEY_FILE, openKeyStore } from '../../src/auth/key-store.js';
import { loadConfig } from '../../src/config.js';
import type { Logger } from '../../src/log.js';
import { createDeployment } from '../helpers/runtime.js';
import { freePort, startMain } from '../helpers/main-process.js';

const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'tickplant-admin-key-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function captureLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => lines.push(`${level} ${msg}${fields ? ' ' + JSON.stringify(fields) : ''}`);
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const BANNER = /^admin API key \(shown once, also in (.+)\): (tp_\S+)$/m;

describe('ensureAdminKey', () => {
  it('no admin key: one named admin, written to DATA_DIR/admin-key (0600, the key and a newline); then nothing', async () => {
    const dir = tempDir();
    const store = new FileKeyStore(join(dir, KEY_FILE));
    await store.create({ name: 'reader', scopes: ['read', 'write'] }); // not an admin: does not count
    const k = await ensureAdminKey(store, dir);
    expect(k).toBeDefined();
    expect(k!.record).toMatchObject({ name: 'admin', user: '', scopes: ['admin'], hash: hashKey(k!.key) });
    expect(k!.file).toBe(join(dir, ADMIN_KEY_FILE));
    expect(readFileSync(k!.file, 'utf8')).toBe(k!.key + '\n');
    expect(statSync(k!.file).mode & 0o777).toBe(0o600);
    expect(adminKeyBanner(k!)).toBe(`admin API key (shown once, also in ${k!.file}): ${k!.key}`);
    expect(await ensureAdminKey(store, dir)).toBeUndefined();
    expect(readFileSync(k!.file, 'utf8')).toBe(k!.key + '\n');
  });

  it('an admin key of any name counts; once every admin key is revoked, a new one is made (admin-2 when "admin" is taken)', async () => {
    const dir = tempDir();
    const store = new FileKeyStore(join(dir, KEY_FILE));
    const ops = await store.create({ name: 'ops', scopes: ['read', 'admin'] });
    expect(await ensureAdminKey(store, dir)).toBeUndefined();
    expect(existsSync(join(dir, ADMIN_KEY_FILE))).toBe(false);
    await store.revoke(ops.record.id);
    await store.create({ name: 'admin', scopes: ['read'] }); // a reader someone called admin
    const k = await ensureAdminKey(store, dir);
    expect(k?.record.name).toBe('admin-2');
    expect(readFileSync(join(dir, ADMIN_KEY_FILE), 'utf8')).toBe(k!.key + '\n');
  });

  it('a DATA_DIR it cannot write: the key exists and is still returned once, with the reason', async () => {
    const dir = tempDir();
    const store = new FileKeyStore(join(dir, KEY_FILE));
    const k = await ensureAdminKey(store, join(dir, KEY_FILE, 'not-a-dir'));
    expect(k?.fileError).toMatch(/ENOTDIR|EEXIST/);
    expect(adminKeyBanner(k!)).toMatch(/^admin API key \(shown once, NOT saved to .*: store it now\): tp_/);
    expect((await store.active()).map((r) => r.id)).toEqual([k!.record.id]);
  });
});

describe('bootstrapAdminKey', () => {
  it('AUTH=off: nothing is made or written', async () => {
    const dir = tempDir();
    const log = captureLog();
    expect(await bootstrapAdminKey(loadConfig({}, { auth: 'off', persist: false, dataDir: dir }), { log })).toBeUndefined();
    expect(existsSync(join(dir, KEY_FILE)) || existsSync(join(dir, ADMIN_KEY_FILE))).toBe(false);
    expect(log.lines).toEqual([]);
  });

  it('the database down at start: one warning saying how to make the key by hand, and start-up goes on', async () => {
    const log = captureLog();
    const cfg = loadConfig({}, { databaseUrl: 'postgres://postgres@127.0.0.1:1/none', dataDir: tempDir() });
    expect(await bootstrapAdminKey(cfg, { databaseUrl: cfg.databaseUrl, databaseUp: false, log })).toBeUndefined();
    // Up for the writer, gone a moment later: the same line with the cause.
    expect(await bootstrapAdminKey(cfg, { databaseUrl: cfg.databaseUrl, databaseUp: true, log })).toBeUndefined();
    expect(log.lines).toHaveLength(2);
    expect(log.lines[0]).toBe('warn AUTH=writes but the admin API key could not be checked or created (database unreachable): create one with "npm run keys -- create --name admin --scopes admin"');
    expect(log.lines[1]).toMatch(/^warn AUTH=writes but the admin API key could not be checked or created \(connect ECONNREFUSED .*\): create one with "npm run keys/);
  });
});

describe('tickplant start-up', () => {
  const cheap = { SYMBOLS: 'US.AAPL', SHARDS: '1', SIM_UPDATES_PER_SECOND: '10', WEBSOCKET_PORT: '0' };

  it('first start prints the admin key once on stdout (not in any log line, even at debug) and saves it; the second prints nothing', async () => {
    const dep = await createDeployment();
    try {
      const env = { ...cheap, DATABASE_URL: dep.url, DATA_DIR: dep.dataDir, LOG_LEVEL: 'debug' };
      const first = startMain(env);
      const [, file, key] = await first.waitFor(BANNER, 60_000);
      first.child.kill('SIGTERM');
      expect(await first.exited).toBe(0);
      expect(file).toBe(join(dep.dataDir, ADMIN_KEY_FILE));
      expect(isApiKey(key)).toBe(true);
      expect(readFileSync(file, 'utf8')).toBe(key + '\n');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const mentions = first.output.split('\n').filter((l) => l.includes(key.slice(12)));
      expect(mentions).toEqual([`admin API key (shown once, also in ${file}): ${key}`]);

      const store = await openKeyStore(loadConfig({}, { databaseUrl: dep.url, dataDir: dep.dataDir }));
      try {
        expect((await store.active()).map((r) => [r.name, r.scopes, r.hash])).toEqual([['admin', ['admin'], hashKey(key)]]);
      } finally {
        await store.close();
      }

      const second = startMain(env);
      await second.port(60_000);
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
      expect(second.output).not.toMatch(/admin API key/);
      expect(readFileSync(file, 'utf8')).toBe(key + '\n');
    } finally {
      await dep.drop();
    }
  });

  it('PERSIST=false: the key goes to DATA_DIR/api-keys.json, printed once the same way', async () => {
    const dir = tempDir();
    const env = { ...cheap, PERSIST: 'false', DATA_DIR: dir };
    const first = startMain(env);
    const [, file, key] = await first.waitFor(BANNER, 60_000);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(file).toBe(join(dir, ADMIN_KEY_FILE));
    expect(readFileSync(join(dir, KEY_FILE), 'utf8')).toContain(hashKey(key));

    const second = startMain(env);
    await second.port(60_000);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(second.output).not.toMatch(/admin API key \(/);
  });

  it('the database unreachable at start: one warning line naming `npm run keys`, no key, and tickplant serves', async () => {
    const dir = tempDir();
    const p = startMain({ ...cheap, DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/none`, DATA_DIR: dir });
    await p.port(60_000);
    p.child.kill('SIGTERM');
    await p.exited;
    const lines = p.output.split('\n').filter((l) => /admin API key/.test(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/ warn .*admin API key could not be checked or created \(database unreachable\): create one with "npm run keys -- create --name admin --scopes admin"/);
    expect(existsSync(join(dir, ADMIN_KEY_FILE))).toBe(false);
  });
});
