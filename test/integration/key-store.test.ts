// The API key stores, PostgreSQL and file: one contract, only hashes at rest, safe with several writers and readers.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KeyStore, hashKey, isApiKey, parseKeyId } from '../../src/auth/api-keys.js';
import { FileKeyStore } from '../../src/auth/key-store-file.js';
import { KEY_FILE, openKeyStore } from '../../src/auth/key-store.js';
import { loadConfig } from '../../src/config.js';
import { migrate } from '../../src/store/migrations.js';
import { createDeployment } from '../helpers/runtime.js';

type Deployment = Awaited<ReturnType<typeof createDeployment>>;
let dep: Deployment;
let db: pg.Pool;
const dirs: string[] = [];
const stores: KeyStore[] = [];

const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'tickplant-keys-'));
  dirs.push(d);
  return d;
};

beforeAll(async () => {
  dep = await createDeployment();
  db = new pg.Pool({ connectionString: dep.url, max: 2 });
});

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await db?.end();
  await dep?.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function pgStore(): Promise<KeyStore> {
  const s = await openKeyStore(loadConfig({}, { databaseUrl: dep.url, dataDir: dep.dataDir, logLevel: 'warn' }));
  stores.push(s);
  return s;
}

async function fileStore(dir = tempDir()): Promise<KeyStore> {
  const s = await openKeyStore(loadConfig({}, { persist: false, dataDir: dir, logLevel: 'warn' }));
  stores.push(s);
  return s;
}

/** Everything the store holds at rest, as text. */
const atRest = {
  pg: async () => (await db.query<{ t: string }>('select t::text from api_keys t')).rows.map((r) => r.t).join('\n'),
  file: (s: KeyStore) => readFileSync((s as FileKeyStore).file, 'utf8'),
};

const kinds = [
  { kind: 'PostgreSQL', open: pgStore, rest: () => atRest.pg() },
  { kind: 'file', open: () => fileStore(), rest: (s: KeyStore) => Promise.resolve(atRest.file(s)) },
] as const;

describe.each(kinds)('$kind key store', ({ kind, open, rest }) => {
  let store: KeyStore;
  beforeAll(async () => {
    store = await open();
    if (kind === 'PostgreSQL') await db.query('delete from api_keys');
  });

  it('create → list/active; the key is returned once and only its hash is kept', async () => {
    expect(await store.list()).toEqual([]);
    const { key, record } = await store.create({ name: 'ci-bot', user: 'alice', scopes: ['read', 'write'] });
    expect(isApiKey(key)).toBe(true);
    expect(record).toEqual({
      id: parseKeyId(key), name: 'ci-bot', user: 'alice', scopes: ['read', 'write'], hash: hashKey(key), createdAt: expect.any(String),
    });
    expect(Date.now() - Date.parse(record.createdAt)).toBeLessThan(60_000);
    expect(await store.list()).toEqual([record]);
    expect(await store.active()).toEqual([record]);

    const stored = await rest(store);
    expect(stored).toContain(record.hash);
    expect(stored).not.toContain(key);
    expect(stored).not.toContain(key.slice(12)); // the secret alone
  });

  it('names are unique among active keys; revoke by name or id; a revoked name can be used again', async () => {
    const other = await store.create({ name: 'reporting', scopes: ['read'] });
    await expect(store.create({ name: 'ci-bot', scopes: ['admin'] })).rejects.toMatchObject({ code: 'api_key_name_taken' });
    expect(await store.revoke('ci-bot')).toBe(true);
    expect(await store.revoke('ci-bot')).toBe(false); // no active key has it now
    const again = await store.create({ name: 'ci-bot', scopes: ['admin'] });
    expect(again.record.user).toBe('');

    expect(await store.revoke(other.record.id)).toBe(true);
    expect(await store.revoke(other.record.id)).toBe(false);
    expect(await store.revoke('nobody')).toBe(false);

    const all = await store.list();
    expect(all.map((k) => [k.name, k.revokedAt === undefined])).toEqual([['ci-bot', false], ['reporting', false], ['ci-bot', true]]);
    for (const k of all.filter((x) => x.revokedAt)) expect(Date.parse(k.revokedAt!)).toBeGreaterThanOrEqual(Date.parse(k.createdAt));
    expect((await store.active()).map((k) => k.id)).toEqual([again.record.id]);
    expect(await rest(store)).not.toContain(again.key);
  });

  it('refuses a bad request and stores nothing', async () => {
    const before = await store.list();
    await expect(store.create({ name: 'bad name', scopes: ['read'] })).rejects.toMatchObject({ code: 'api_key_invalid' });
    await expect(store.create({ name: 'ok', scopes: ['root' as 'read'] })).rejects.toMatchObject({ code: 'api_key_invalid' });
    await expect(store.create({ name: 'ok', scopes: [] })).rejects.toMatchObject({ code: 'api_key_invalid' });
    expect(await store.list()).toEqual(before);
  });

  it('two stores creating the same name at once: exactly one wins', async () => {
    const second = kind === 'file' ? new FileKeyStore((store as FileKeyStore).file) : await open();
    const results = await Promise.allSettled([store.create({ name: 'race', scopes: ['read'] }), second.create({ name: 'race', scopes: ['read'] })]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'api_key_name_taken' } });
  });
});

describe('PostgreSQL key store', () => {
  it('opening it on a fresh schema creates api_keys through the migrations (the CLI may run before tickplant ever did)', async () => {
    const fresh = await createDeployment();
    try {
      const s = await openKeyStore(loadConfig({}, { databaseUrl: fresh.url, dataDir: fresh.dataDir }));
      await s.close();
      const p = new pg.Pool({ connectionString: fresh.url, max: 1 });
      try {
        const ids = (await p.query<{ id: number }>('select id from tickplant_migrations order by id')).rows.map((r) => r.id);
        expect(ids).toContain(4);
        // The writer's migrate() at its start then has nothing left to do.
        expect((await migrate(p, { timescale: 'auto', compressAfter: '1 day', retention: '1 hour' })).applied).toEqual([]);
      } finally {
        await p.end();
      }
    } finally {
      await fresh.drop();
    }
  });

  it('an unreachable database rejects at open, within its connect timeout', async () => {
    const t0 = Date.now();
    await expect(openKeyStore(loadConfig({}, { databaseUrl: 'postgres://postgres@127.0.0.1:1/none' }))).rejects.toThrow(/ECONNREFUSED/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});

describe('file key store', () => {
  it(`lives in DATA_DIR/${KEY_FILE}, mode 0600, with nothing left beside it`, async () => {
    const dir = tempDir();
    const s = await fileStore(dir);
    await s.create({ name: 'one', scopes: ['read'] });
    await s.create({ name: 'two', scopes: ['write'] });
    expect((s as FileKeyStore).file).toBe(join(dir, KEY_FILE));
    expect(statSync(join(dir, KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual([KEY_FILE]); // no temp file, no lock
  });

  it('a missing DATA_DIR is created at the first key', async () => {
    const dir = join(tempDir(), 'not', 'yet');
    const s = await fileStore(dir);
    expect(await s.active()).toEqual([]);
    await s.create({ name: 'first', scopes: ['read'] });
    expect(existsSync(join(dir, KEY_FILE))).toBe(true);
  });

  it('many concurrent writers on one file (separate stores): no change is lost', async () => {
    const dir = tempDir();
    const writers = await Promise.all(Array.from({ length: 4 }, () => fileStore(dir)));
    await Promise.all(Array.from({ length: 40 }, (_, i) => writers[i % 4].create({ name: `k${i}`, scopes: ['read'] })));
    expect((await writers[0].active()).map((k) => k.name).sort()).toEqual(Array.from({ length: 40 }, (_, i) => `k${i}`).sort());
  });

  it('a reader polling while another process writes keys never sees a partial file', async () => {
    const dir = tempDir();
    const file = join(dir, KEY_FILE);
    const reader = new FileKeyStore(file);
    // The writer in a process of its own, as `npm run keys` beside a running tickplant.
    const script = `import { FileKeyStore } from ${JSON.stringify(resolve('src/auth/key-store-file.ts'))};
      const s = new FileKeyStore(${JSON.stringify(file)});
      for (let i = 0; i < 150; i++) await s.create({ name: 'w' + i, scopes: ['read'] });`;
    const writer = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    writer.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => writer.on('exit', r));
    let writing = true;
    void exited.then(() => (writing = false));
    let last = 0;
    let reads = 0;
    while (writing) {
      const n = (await reader.active()).length; // a torn file would throw api_key_store_damaged
      expect(n).toBeGreaterThanOrEqual(last);
      if (n > last && last > 0) reads++; // a read between two writes
      last = n;
    }
    expect(await exited, stderr).toBe(0);
    expect(reads).toBeGreaterThan(5);
    expect(await reader.active()).toHaveLength(150);
  });

  it('a damaged file is an error naming it, never "no keys" (which would mint a new admin key over the others)', async () => {
    const dir = tempDir();
    const file = join(dir, KEY_FILE);
    const s = await fileStore(dir);
    for (const text of ['{"version": 1, "keys": [', '[]', '{"version": 1, "keys": [{"id": "zz"}]}']) {
      writeFileSync(file, text);
      await expect(s.list()).rejects.toMatchObject({ code: 'api_key_store_damaged', message: expect.stringContaining(file) });
      await expect(s.create({ name: 'x', scopes: ['read'] })).rejects.toMatchObject({ code: 'api_key_store_damaged' });
      expect(readFileSync(file, 'utf8')).toBe(text); // left as it was, for the operator to look at
    }
  });

  it("a dead writer's lock is taken over; a live one's is waited for", async () => {
    const dir = tempDir();
    const s = await fileStore(dir);
    const lock = join(dir, `${KEY_FILE}.lock`);
    writeFileSync(lock, '999999999\n'); // no such process
    await s.create({ name: 'after-dead', scopes: ['read'] });
    expect(existsSync(lock)).toBe(false);

    writeFileSync(lock, `${process.ppid}\n`); // alive: vitest's parent
    let done = false;
    const creating = s.create({ name: 'after-live', scopes: ['read'] }).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(done).toBe(false);
    rmSync(lock);
    await creating;
    expect((await s.active()).map((k) => k.name)).toEqual(['after-dead', 'after-live']);
  });
});
