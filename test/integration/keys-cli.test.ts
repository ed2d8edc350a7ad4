// `npm run keys`: the built CLI as an operator runs it, on each store tickplant can have (file, DATABASE_URL, embedded PostgreSQL with and without a running tickplant).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey, isApiKey } from '../../src/auth/api-keys.js';
import { createDeployment } from '../helpers/runtime.js';
import { freePort, startMain } from '../helpers/main-process.js';

let build: string;
const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'tickplant-keys-cli-'));
  dirs.push(d);
  return d;
};

beforeAll(() => {
  // The production build, as `npm run keys` makes it, into a directory of this file's own: other
  // runs may be rebuilding dist/ meanwhile.
  build = tempDir();
  const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--outDir', build], { encoding: 'utf8' });
  expect(existsSync(join(build, 'src/cli/keys.js')), tsc.stdout + tsc.stderr).toBe(true);
  symlinkSync(resolve('node_modules'), join(build, 'node_modules'));
});

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Run { code: number | null; stdout: string; stderr: string }

/** `node dist/src/cli/keys.js <args>` with `env` over this environment minus DATABASE_URL. */
function keys(env: NodeJS.ProcessEnv, ...args: string[]): Promise<Run> {
  const base = { ...process.env };
  delete base.DATABASE_URL;
  delete base.TICKPLANT_CONFIG;
  return new Promise((done) => {
    const child = spawn(process.execPath, [join(build, 'src/cli/keys.js'), ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

const lines = (text: string): string[] => text.split('\n').filter(Boolean);

/** The `field value` lines of `create`. */
function created(r: Run): Record<string, string> {
  expect(r.code, r.stderr).toBe(0);
  return Object.fromEntries(lines(r.stdout).map((l) => /^(\w+)\s+(.*)$/.exec(l)!.slice(1, 3)));
}

/** The rows of `list`, by column name. */
function listed(r: Run): Record<string, string>[] {
  expect(r.code, r.stderr).toBe(0);
  const [head, ...rows] = lines(r.stdout).map((l) => l.split(/\s{2,}/));
  expect(head).toEqual(['ID', 'NAME', 'USER', 'SCOPES', 'CREATED', 'REVOKED']);
  return rows.map((cells) => Object.fromEntries(head.map((h, i) => [h, cells[i]])));
}

const portOpen = (port: number): Promise<boolean> =>
  new Promise((done) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), done(true)));
    s.once('error', () => done(false));
  });

describe('npm run keys, PERSIST=false (DATA_DIR/api-keys.json)', () => {
  let env: NodeJS.ProcessEnv;
  beforeAll(() => {
    env = { PERSIST: 'false', DATA_DIR: tempDir() };
  });

  it('create prints the key once with its id, name, user and scopes; list and revoke never show a key or a hash', async () => {
    const c = created(await keys(env, 'create', '--name', 'ci-bot', '--scopes', 'read,write', '--user', 'alice'));
    expect(Object.keys(c)).toEqual(['id', 'name', 'user', 'scopes', 'key']);
    expect(c).toMatchObject({ name: 'ci-bot', user: 'alice', scopes: 'read,write' });
    expect(isApiKey(c.key)).toBe(true);
    expect(c.key.startsWith(`tp_${c.id}_`)).toBe(true);
    const c2 = created(await keys(env, 'create', '--name=viewer', '--scopes=read'));
    expect(c2.user).toBe('-');

    const file = join(env.DATA_DIR!, 'api-keys.json');
    const text = readFileSync(file, 'utf8');
    expect(text).toContain(hashKey(c.key));
    expect(text).not.toContain(c.key.slice(12));
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const l = await keys(env, 'list');
    expect(listed(l).map((k) => [k.ID, k.NAME, k.USER, k.SCOPES, k.REVOKED])).toEqual([
      [c.id, 'ci-bot', 'alice', 'read,write', '-'], [c2.id, 'viewer', '-', 'read', '-'],
    ]);
    expect(listed(l)[0].CREATED).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(l.stdout).not.toContain(c.key.slice(12));
    expect(l.stdout).not.toContain(hashKey(c.key));

    const r = await keys(env, 'revoke', 'ci-bot');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`revoked ${c.id} "ci-bot" (user alice, scopes read,write)\n`);
    expect(listed(await keys(env, 'list'))[0].REVOKED).toMatch(/^\d{4}-.*Z$/);
    const byId = await keys(env, 'revoke', c2.id);
    expect(byId.code).toBe(0);

    const again = await keys(env, 'revoke', 'ci-bot');
    expect(again.code).toBe(1);
    expect(lines(again.stderr)).toEqual(['keys: no active key has the id or name "ci-bot" (npm run keys -- list shows them)']);
    const dup = await keys(env, 'create', '--name', 'dup', '--scopes', 'read');
    expect(dup.code).toBe(0);
    const taken = await keys(env, 'create', '--name', 'dup', '--scopes', 'read');
    expect([taken.code, taken.stdout]).toEqual([1, '']);
    expect(lines(taken.stderr)).toEqual(['keys: an active key is already named "dup": revoke it first, or choose another name']);
  });

  it('bad arguments: one line saying what is wrong, exit 2, nothing stored', async () => {
    const before = readFileSync(join(env.DATA_DIR!, 'api-keys.json'), 'utf8');
    const cases: [string[], RegExp][] = [
      [[], /no command given/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['create'], /create needs --name/],
      [['create', '--name', 'x'], /create needs --scopes/],
      [['create', '--name', 'x', '--scopes'], /--scopes needs a value/],
      [['create', '--name', 'x', '--scopes', 'read,root'], /unknown scope "root"/],
      [['create', '--name', 'bad name', '--scopes', 'read'], /bad key name/],
      [['create', '--name', 'x', '--scopes', 'read', '--user', 'a b'], /bad user/],
      [['create', '--name', 'x', '--scopes', 'read', '--expires', '1d'], /unknown option "--expires"/],
      [['create', '--name', 'x', '--name', 'y', '--scopes', 'read'], /--name given twice/],
      [['list', 'all'], /list takes no arguments/],
      [['revoke'], /revoke takes one key id or name/],
      [['revoke', 'a', 'b'], /revoke takes one key id or name/],
    ];
    const runs = await Promise.all(cases.map(([argv]) => keys(env, ...argv)));
    runs.forEach((r, i) => {
      const [argv, re] = cases[i];
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stdout, argv.join(' ')).toBe('');
      expect(lines(r.stderr), argv.join(' ')).toHaveLength(1);
      expect(r.stderr, argv.join(' ')).toMatch(re);
      expect(r.stderr).toMatch(/^keys: .*usage: npm run keys -- create/);
    });
    expect(readFileSync(join(env.DATA_DIR!, 'api-keys.json'), 'utf8')).toBe(before);
  });

  it('several CLIs creating keys at once on one file: every key is kept', async () => {
    const dir = { PERSIST: 'false', DATA_DIR: tempDir() };
    const runs = await Promise.all(Array.from({ length: 6 }, (_, i) => keys(dir, 'create', '--name', `p${i}`, '--scopes', 'read')));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    expect(listed(await keys(dir, 'list')).map((k) => k.NAME).sort()).toEqual(['p0', 'p1', 'p2', 'p3', 'p4', 'p5']);
  });
});

describe('npm run keys, DATABASE_URL', () => {
  it('create, list, revoke against the database; the table holds the hash, not the key', async () => {
    const dep = await createDeployment();
    const db = new pg.Pool({ connectionString: dep.url, max: 1 });
    try {
      // The CLI first, before any tickplant ran on this schema: it migrates.
      const env = { DATABASE_URL: dep.url, DATA_DIR: dep.dataDir };
      const c = created(await keys(env, 'create', '--name', 'ops', '--scopes', 'admin', '--user', 'root@example.com'));
      const rows = (await db.query<{ t: string }>('select t::text from api_keys t')).rows.map((r) => r.t).join('\n');
      expect(rows).toContain(hashKey(c.key));
      expect(rows).not.toContain(c.key.slice(12));
      expect(listed(await keys(env, 'list')).map((k) => [k.ID, k.NAME, k.USER, k.SCOPES, k.REVOKED])).toEqual([[c.id, 'ops', 'root@example.com', 'admin', '-']]);
      expect((await keys(env, 'revoke', c.id)).code).toBe(0);
      expect((await db.query('select revoked_at from api_keys where id = $1', [c.id])).rows[0].revoked_at).toBeInstanceOf(Date);
    } finally {
      await db.end();
      await dep.drop();
    }
  });

  it('an unreachable DATABASE_URL: exit 1, one line naming it, password hidden', async () => {
    const r = await keys({ DATABASE_URL: `postgres://postgres:s3cret@127.0.0.1:${await freePort()}/none`, DATA_DIR: tempDir() }, 'list');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/^keys: cannot use PostgreSQL at DATABASE_URL=postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/none \(connect ECONNREFUSED/);
    expect(r.stderr).not.toContain('s3cret');
  });
});

describe('npm run keys, embedded PostgreSQL (DATABASE_URL unset)', () => {
  it('tickplant stopped: the CLI starts the database itself and stops it; tickplant running: the CLI uses its database', async () => {
    const dataDir = tempDir();
    const pgPort = await freePort();
    const env = { DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(pgPort) };

    const c = created(await keys(env, 'create', '--name', 'admin', '--scopes', 'admin'));
    expect(await portOpen(pgPort)).toBe(false); // stopped again
    expect(existsSync(join(dataDir, 'tickplant.pid'))).toBe(false); // DATA_DIR's lock released
    const stopped = await keys(env, 'list');
    expect(stopped.stderr).toMatch(/tickplant is not running: starting the embedded PostgreSQL/);
    expect(listed(stopped).map((k) => k.ID)).toEqual([c.id]);

    // The production build of tickplant on the same DATA_DIR: an admin key exists, so it prints none.
    const main = startMain({ ...env, WEBSOCKET_PORT: '0', SYMBOLS: 'US.AAPL', SHARDS: '1', SIM_UPDATES_PER_SECOND: '10' },
      { command: [process.execPath, [join(build, 'src/main.js')]] });
    try {
      await main.port(60_000);
      const v = created(await keys(env, 'create', '--name', 'viewer', '--scopes', 'read'));
      const running = await keys(env, 'list');
      expect(running.stderr).not.toMatch(/starting the embedded PostgreSQL/);
      expect(listed(running).map((k) => k.NAME)).toEqual(['admin', 'viewer']);
      expect((await keys(env, 'revoke', v.id)).code).toBe(0);
      expect(main.output).not.toMatch(/admin API key/);
    } finally {
      main.child.kill('SIGTERM');
      expect(await main.exited).toBe(0);
    }
    expect(existsSync(join(dataDir, 'admin-key'))).toBe(false);
  });
});
