// The suite's global setup against the machine's PostgreSQL and Redis: a missing database is created, a dead service is named.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL, DEFAULT_TIMESCALE_URL, checkRedis, ensureDatabase, ensureServices, ensureTimescale } from '../global-setup.js';

const DATABASE_URL = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
const REDIS_URL = process.env.REDIS_URL || DEFAULT_REDIS_URL;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** DATABASE_URL with another database name. */
function withDatabase(name: string): string {
  const u = new URL(DATABASE_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A port nothing listens on: one the kernel just handed out and that was closed again. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const admin = new pg.Client({ connectionString: withDatabase('postgres') });
await admin.connect();
const created: string[] = [];
const freshName = (): string => {
  const name = `tp_setup_${randomBytes(5).toString('hex')}`;
  created.push(name);
  return name;
};
const exists = async (name: string): Promise<boolean> =>
  (await admin.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1;

afterAll(async () => {
  for (const name of created) await admin.query(`drop database if exists "${name}" with (force)`);
  await admin.end();
});

describe('global setup: the test database', () => {
  it('creates a database that does not exist, then finds it', async () => {
    const name = freshName();
    expect(await exists(name)).toBe(false);
    expect(await ensureDatabase(withDatabase(name))).toBe('created');
    expect(await exists(name)).toBe(true);
    const c = new pg.Client({ connectionString: withDatabase(name) });
    await c.connect();
    expect((await c.query('select current_database() as db')).rows[0].db).toBe(name);
    await c.end();
    expect(await ensureDatabase(withDatabase(name))).toBe('exists');
  });

  it('lets concurrent runs race to create it: one creates, the others find it, none fails', async () => {
    const name = freshName();
    const outcomes = await Promise.all([1, 2, 3, 4].map(() => ensureDatabase(withDatabase(name))));
    expect(outcomes.filter((o) => o === 'created')).toHaveLength(1);
    expect(await exists(name)).toBe(true);
  });

  it('fails with one line naming DATABASE_URL, without its password, when PostgreSQL is unreachable', async () => {
    const url = `postgres://postgres:secret@127.0.0.1:${await closedPort()}/test`;
    const err = await ensureDatabase(url).then(() => undefined, (e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toMatch(/^PostgreSQL is unreachable at DATABASE_URL=postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/test \(.*ECONNREFUSED.*\): start PostgreSQL or set DATABASE_URL$/);
    expect(err!.message).not.toContain('secret');
    expect(err!.stack).toBe(`Error: ${err!.message}`); // no frames: the run prints the message alone
  });
});

describe('global setup: Redis', () => {
  it('passes when Redis answers', async () => {
    await expect(checkRedis(REDIS_URL)).resolves.toBeUndefined();
  });

  it('fails with one line naming REDIS_URL when Redis is unreachable', async () => {
    const url = `redis://127.0.0.1:${await closedPort()}`;
    await expect(checkRedis(url)).rejects.toThrow(/^Redis is unreachable at REDIS_URL=redis:\/\/127\.0\.0\.1:\d+ \(.*ECONNREFUSED.*\): start redis-server or set REDIS_URL$/);
    await expect(ensureServices({ DATABASE_URL, REDIS_URL: url })).rejects.toThrow(/REDIS_URL/);
  });
});

describe('the TimescaleDB server of the suite', () => {
  it('is there (started by the machines\' setup script when it was not running), with its test database', async () => {
    expect(await ensureTimescale(process.env.TIMESCALE_URL || DEFAULT_TIMESCALE_URL)).toBe('exists');
  });

  it('unreachable, with no setup script beside the checkout: one line naming TIMESCALE_URL and how to start one', async () => {
    const url = `postgres://postgres@127.0.0.1:${await closedPort()}/test`;
    await expect(ensureTimescale(url, '/nonexistent/setup.sh')).rejects.toThrow(/^TimescaleDB is unreachable at TIMESCALE_URL=.*: start one \(e\.g\. docker run .*timescale\/timescaledb:.*\) or set TIMESCALE_URL$/);
  });

  it('unreachable, and the setup script fails: its exit status and last line', async () => {
    const url = `postgres://postgres@127.0.0.1:${await closedPort()}/test`;
    const setup = join(mkdtempSync(join(tmpdir(), 'tickplant-setup-')), 'setup.sh');
    writeFileSync(setup, 'echo "the build is for PostgreSQL 15" >&2; exit 3\n');
    await expect(ensureTimescale(url, setup)).rejects.toThrow(/failed \(exit 3\): the build is for PostgreSQL 15$/);
  });
});

describe('global setup in a vitest run', () => {
  it('stops the run before any test file, with the message, when PostgreSQL is unreachable', async () => {
    const url = `postgres://postgres@127.0.0.1:${await closedPort()}/test`;
    const r = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', 'test/unit/book.test.ts', '--reporter=dot'], {
      cwd: ROOT, env: { ...process.env, DATABASE_URL: url }, encoding: 'utf8', timeout: 60_000,
    });
    const out = r.stdout + r.stderr;
    expect(r.status, out).not.toBe(0);
    expect(out).toContain(`PostgreSQL is unreachable at DATABASE_URL=${url}`);
    expect(out).not.toMatch(/book\.test\.ts.*passed|Tests\s+\d+ passed/);
  });
});
