// Sessions against the real Redis: random ids, sliding TTL, per-user index across nodes, delete-all, expiry and cleanup.
import { afterAll, describe, expect, it } from 'vitest';
import { CacheKeyError } from '../../src/cache/errors.js';
import { parseNamespaces } from '../../src/cache/namespaces.js';
import type { CacheService } from '../../src/cache/service.js';
import { SessionStore } from '../../src/cache/sessions.js';
import { cacheNodes } from '../helpers/cache-nodes.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const NAMESPACES = parseNamespaces({
  namespaces: [{ name: 'sessions', keyPattern: 'session:{session_id}', ttlSeconds: 2, strategy: 'cache-only', memoryLimitBytes: 1 << 20, compressionThresholdBytes: 16384 }],
});

const { prefix: PREFIX, direct, node, cleanup } = cacheNodes(NAMESPACES);
afterAll(cleanup);

async function store(): Promise<{ cache: CacheService; sessions: SessionStore }> {
  const cache = await node();
  return { cache, sessions: new SessionStore(cache) };
}

describe('sessions', () => {
  it('creates sessions with user_id, role, permissions and timestamps, and 192-bit random ids', async () => {
    const { sessions } = await store();
    const s = await sessions.create('user123', { role: 'trader', permissions: ['read', 'write'] });
    expect(s).toMatchObject({ user_id: 'user123', role: 'trader', permissions: ['read', 'write'] });
    expect(s.session_id).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(Date.parse(s.expires_at) - Date.parse(s.created_at)).toBe(2000);
    expect(s.last_activity).toBe(s.created_at);
    const ids = new Set(await Promise.all(Array.from({ length: 50 }, async () => (await sessions.create('user123')).session_id)));
    expect(ids.size).toBe(50);
    // The caller's fields cannot overwrite the session's own.
    const forged = await sessions.create('user123', { user_id: 'admin', session_id: 'chosen' });
    expect(forged.user_id).toBe('user123');
    expect(forged.session_id).not.toBe('chosen');
  });

  it('slides the TTL on each get, in memory and in Redis', async () => {
    const { sessions } = await store();
    const s = await sessions.create('slider');
    await sleep(1200);
    const touched = await sessions.get(s.session_id);
    expect(touched?.user_id).toBe('slider');
    expect(Date.parse(touched!.expires_at)).toBeGreaterThan(Date.parse(s.expires_at));
    expect(Date.parse(touched!.last_activity)).toBeGreaterThan(Date.parse(s.last_activity));
    expect(await direct.pttl(`${PREFIX}session:${s.session_id}`)).toBeGreaterThan(1500);
    await sleep(1200); // 2.4 s after creation, 1.2 s after the slide: still alive
    expect((await sessions.get(s.session_id))?.session_id).toBe(s.session_id);
  });

  it('expires untouched sessions; cleanup() purges them from the indexes', async () => {
    const { cache, sessions } = await store();
    const a = await sessions.create('expiring');
    await sessions.create('expiring');
    expect(await sessions.listForUser('expiring')).toHaveLength(2);
    await sleep(2100);
    expect(await sessions.get(a.session_id)).toBeUndefined();
    expect(await direct.zcard(`${PREFIX}_sidx:expiring`)).toBe(2); // still indexed until cleanup
    const result = await cache.cleanup();
    expect(result.expiredSessions).toBeGreaterThanOrEqual(2);
    expect(await direct.zcard(`${PREFIX}_sidx:expiring`)).toBe(0);
    expect(await sessions.listForUser('expiring')).toEqual([]);
  });

  it('lists, deletes one, and deletes all of a user across nodes', async () => {
    const [n1, n2] = [await store(), await store()];
    const s1 = await n1.sessions.create('multi', { device: 'browser' });
    const s2 = await n2.sessions.create('multi', { device: 'phone' });
    await n1.sessions.create('someone-else');
    const listed = await n2.sessions.listForUser('multi');
    expect(listed.map((s) => s.session_id).sort()).toEqual([s1.session_id, s2.session_id].sort());
    expect(listed.find((s) => s.session_id === s1.session_id)?.device).toBe('browser');

    expect(await n2.sessions.delete(s1.session_id)).toBe(true);
    expect(await n2.sessions.delete(s1.session_id)).toBe(false);
    expect(await n1.sessions.get(s1.session_id)).toBeUndefined();
    expect((await n1.sessions.listForUser('multi')).map((s) => s.session_id)).toEqual([s2.session_id]);

    await n1.sessions.create('multi');
    expect(await n1.sessions.deleteAllForUser('multi')).toBe(2);
    expect(await n2.sessions.listForUser('multi')).toEqual([]);
    expect(await direct.exists(`${PREFIX}_sidx:multi`)).toBe(0);
    expect(await n2.sessions.listForUser('someone-else')).toHaveLength(1);
  });

  it('answers undefined for unknown or malformed ids and refuses bad user ids', async () => {
    const { sessions } = await store();
    expect(await sessions.get('AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).toBeUndefined();
    expect(await sessions.get('../../etc')).toBeUndefined();
    expect(await sessions.get('*')).toBeUndefined();
    expect(await sessions.delete('*')).toBe(false);
    await expect(sessions.create('user*')).rejects.toBeInstanceOf(CacheKeyError);
    await expect(sessions.listForUser('a b')).rejects.toBeInstanceOf(CacheKeyError);
  });
});
