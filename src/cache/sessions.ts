// User sessions on the `sessions` namespace: random ids, TTL sliding on each get, a per-user index, cleanup.
//
// A session is one value of the namespace (user_id, role, permissions, created_at,
// last_activity, expires_at, plus the caller's fields). Each user's sessions are
// indexed in a Redis sorted set `${prefix}_sidx:{user_id}` scored by expiry (ms), shared by every
// node, and in a per-node map (the index while Redis is down; sessions created during an outage
// are in memory only, on this node). Index entries of sessions that expired are skipped when
// listing and removed by cleanup().

import { randomBytes } from 'node:crypto';
import { checkValue } from './keys.js';
import type { CacheService } from './service.js';

export interface Session {
  session_id: string;
  user_id: string;
  role?: string;
  permissions?: string[];
  created_at: string;
  last_activity: string;
  expires_at: string;
  [field: string]: unknown;
}

export type SessionData = { role?: string; permissions?: string[] } & Record<string, unknown>;

/** 24 random bytes = 192 bits, 32 base64url characters. */
const ID_BYTES = 24;
const ID_FORMAT = /^[A-Za-z0-9_-]{16,128}$/;
/** The index outlives its newest session by this much, so a slide racing its expiry finds it. */
const INDEX_SLACK_MS = 60_000;

export class SessionStore {
  private readonly ns: string;
  private readonly ttlMs: number;
  /** user_id → session_id → expiry (ms): this node's index. */
  private readonly local = new Map<string, Map<string, number>>();

  constructor(private readonly cache: CacheService, opts: { namespace?: string } = {}) {
    this.ns = opts.namespace ?? 'sessions';
    const def = cache.namespace(this.ns);
    if (def.keys.names.length !== 1 || def.keys.names[0] !== 'session_id') {
      throw new TypeError(`session namespace ${this.ns} must have the key pattern "<tag>:{session_id}", got ${def.keyPattern}`);
    }
    if (def.strategy !== 'cache-only') throw new TypeError(`session namespace ${this.ns} must be cache-only, got ${def.strategy}`);
    this.ttlMs = def.ttlSeconds * 1000;
    cache.onCleanup('expiredSessions', () => this.cleanup());
  }

  /** A new session for userId with data's fields. Throws CacheKeyError on a bad user id. */
  async create(userId: string, data: SessionData = {}): Promise<Session> {
    checkValue(this.ns, 'user_id', userId);
    const id = randomBytes(ID_BYTES).toString('base64url');
    const now = Date.now();
    const s: Session = {
      ...data,
      session_id: id,
      user_id: userId,
      created_at: iso(now),
      last_activity: iso(now),
      expires_at: iso(now + this.ttlMs),
    };
    await this.cache.set(this.ns, { session_id: id }, s);
    await this.index(userId, id, now + this.ttlMs);
    return s;
  }

  /** The session, its TTL slid forward (last_activity = now); undefined if unknown or expired. */
  async get(id: string): Promise<Session | undefined> {
    const s = await this.read(id);
    if (!s) return undefined;
    const now = Date.now();
    const slid: Session = { ...s, last_activity: iso(now), expires_at: iso(now + this.ttlMs) };
    await this.cache.set(this.ns, { session_id: id }, slid);
    await this.index(s.user_id, id, now + this.ttlMs);
    return slid;
  }

  /** The user a live session belongs to (without sliding it); undefined if unknown or expired. */
  async owner(id: string): Promise<string | undefined> {
    return (await this.read(id))?.user_id;
  }

  /** Deletes one session; whether it existed. */
  async delete(id: string): Promise<boolean> {
    if (!ID_FORMAT.test(id)) return false;
    const s = await this.read(id);
    const existed = await this.cache.delete(this.ns, { session_id: id });
    if (s) await this.unindex(s.user_id, [id]);
    return existed;
  }

  /** The user's live sessions, oldest first (reading does not slide them). */
  async listForUser(userId: string): Promise<Session[]> {
    checkValue(this.ns, 'user_id', userId);
    const now = Date.now();
    const ids = await this.indexed(userId, now);
    const found = await Promise.all(ids.map((id) => this.read(id)));
    const gone = ids.filter((_, i) => found[i] === undefined);
    if (gone.length > 0) await this.unindex(userId, gone);
    return found.filter((s): s is Session => s !== undefined).sort((a, b) => a.created_at.localeCompare(b.created_at));
  }

  /** Deletes every session of the user; how many existed. */
  async deleteAllForUser(userId: string): Promise<number> {
    checkValue(this.ns, 'user_id', userId);
    const ids = await this.indexed(userId, -Infinity);
    let n = 0;
    for (const id of ids) if (await this.cache.delete(this.ns, { session_id: id })) n++;
    this.local.delete(userId);
    await this.cache.withRedis((c, prefix) => c.unlink(`${prefix}_sidx:${userId}`));
    return n;
  }

  /** Removes expired sessions from both indexes (their values expire by TTL); how many distinct ids. */
  async cleanup(): Promise<number> {
    const now = Date.now();
    const removed = new Set<string>();
    for (const [user, ids] of this.local) {
      for (const [id, exp] of ids) if (exp <= now) {
        ids.delete(id);
        removed.add(id);
      }
      if (ids.size === 0) this.local.delete(user);
    }
    await this.cache.withRedis(async (c, prefix) => {
      let cursor = '0';
      do {
        const [next, keys] = await c.scan(cursor, 'MATCH', `${prefix}_sidx:*`, 'COUNT', 1000);
        cursor = next;
        for (const k of keys) {
          const ids = await c.zrangebyscore(k, '-inf', now);
          if (ids.length === 0) continue;
          await c.zrem(k, ...ids);
          for (const id of ids) removed.add(id);
        }
      } while (cursor !== '0');
    });
    return removed.size;
  }

  /** The session without sliding it. */
  private async read(id: string): Promise<Session | undefined> {
    if (!ID_FORMAT.test(id)) return undefined;
    const hit = await this.cache.get<Session>(this.ns, { session_id: id });
    if (!hit || Date.parse(hit.value.expires_at) <= Date.now()) return undefined;
    return hit.value;
  }

  /** Session ids of the user expiring after `after` (ms): the Redis index ∪ this node's. */
  private async indexed(userId: string, after: number): Promise<string[]> {
    const ids = new Set<string>();
    for (const [id, exp] of this.local.get(userId) ?? []) if (exp > after) ids.add(id);
    const shared = await this.cache.withRedis((c, prefix) => c.zrangebyscore(`${prefix}_sidx:${userId}`, after === -Infinity ? '-inf' : `(${after}`, '+inf'));
    for (const id of shared ?? []) ids.add(id);
    return [...ids];
  }

  private async index(userId: string, id: string, expiresAt: number): Promise<void> {
    let ids = this.local.get(userId);
    if (!ids) this.local.set(userId, (ids = new Map()));
    ids.set(id, expiresAt);
    const now = Date.now();
    for (const [other, exp] of ids) if (exp <= now) ids.delete(other);
    await this.cache.withRedis((c, prefix) => {
      const k = `${prefix}_sidx:${userId}`;
      return c.pipeline().zadd(k, expiresAt, id).zremrangebyscore(k, '-inf', now).pexpire(k, this.ttlMs + INDEX_SLACK_MS).exec();
    });
  }

  private async unindex(userId: string, ids: string[]): Promise<void> {
    const mine = this.local.get(userId);
    for (const id of ids) mine?.delete(id);
    if (mine?.size === 0) this.local.delete(userId);
    await this.cache.withRedis((c, prefix) => c.zrem(`${prefix}_sidx:${userId}`, ...ids));
  }
}

const iso = (ms: number) => new Date(ms).toISOString();
