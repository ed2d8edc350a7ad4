// Invalidation: by pattern and clear() here and in Redis, the pub/sub message to other nodes, and the fence against late fills.
//
// Every write, delete and pattern invalidation publishes one message on `${prefix}_invalidate`
// carrying the origin node id; every other node drops the matching keys from its memory tier
// (Redis itself was already changed by the origin). Messages missed while a node was
// disconnected from Redis are not replayed: its memory tier may then serve a stale value until
// that entry's TTL ends (memory is not flushed on reconnect — during an outage it holds the only
// copy of what was written, e.g. sessions created meanwhile).
//
// The fence closes a race: a read that started before a key was overwritten or invalidated
// (here or on another node) may return after it, carrying the old value. It must not put that
// value back into memory. Each read notes `fence.now()` first and fills memory only if
// `fence.clean(key, start)`.

import type { Logger } from '../log.js';
import { CachePatternError } from './errors.js';
import { globToRegExp, literalPrefix, prefixMayMatchTag } from './keys.js';
import type { NamespaceState } from './namespace-state.js';
import type { Tiers } from './tiers.js';

export interface InvalidationMessage {
  /** Origin node id: a node ignores its own messages. */
  o: string;
  /** Exact keys (without the Redis prefix). */
  k?: string[];
  /** A glob over keys; '*' after clear(). */
  p?: string;
}

export function encodeMessage(m: InvalidationMessage): string {
  return JSON.stringify(m);
}

/** The message, or undefined if it is not one of ours (the channel is shared by every node). */
export function decodeMessage(text: string): InvalidationMessage | undefined {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof m !== 'object' || m === null) return undefined;
  const { o, k, p } = m as Record<string, unknown>;
  if (typeof o !== 'string') return undefined;
  if (k !== undefined && !(Array.isArray(k) && k.every((x) => typeof x === 'string'))) return undefined;
  if (p !== undefined && typeof p !== 'string') return undefined;
  return { o, k: k as string[] | undefined, p: p as string | undefined };
}

/** Keys remembered per fence before it forgets them all (and distrusts every read in flight). */
const MAX_TRACKED = 10_000;

export class Fence {
  private seq = 0;
  /** Reads that started before this seq are distrusted (after a pattern or an overflow). */
  private floor = 0;
  private readonly touched = new Map<string, number>();

  /** Call before reading; pass the result to clean(). */
  now(): number {
    return this.seq;
  }

  /** The key was written, deleted or invalidated. */
  touch(key: string): void {
    const s = ++this.seq;
    if (this.touched.size >= MAX_TRACKED) this.touchAll();
    else this.touched.set(key, s);
  }

  /** Every key may have changed (pattern invalidation, clear, or too many keys to track). */
  touchAll(): void {
    this.floor = ++this.seq;
    this.touched.clear();
  }

  /** Whether a value read for `key` since `start` may be stored in memory. */
  clean(key: string, start: number): boolean {
    if (start < this.floor) return false;
    const t = this.touched.get(key);
    return t === undefined || t <= start;
  }
}

/** Pattern invalidation and clear() on this node and in Redis, and applying other nodes' messages. */
export class Invalidator {
  private readonly byTag = new Map<string, NamespaceState>();

  constructor(private readonly states: ReadonlyMap<string, NamespaceState>, private readonly tiers: Tiers, private readonly log: Logger) {
    for (const st of states.values()) this.byTag.set(st.keys.tag, st);
  }

  /** See CacheService.invalidate(). */
  async pattern(pattern: string): Promise<number> {
    const re = globToRegExp(pattern);
    if (pattern.startsWith('_')) throw new CachePatternError('pattern must not start with "_" (the cache\'s own bookkeeping keys)');
    this.tiers.fence.touchAll();
    const removed = new Set<string>();
    this.dropMemory(pattern, re, removed);
    const redis = this.tiers.redis;
    if (redis) {
      for (const k of (await redis.scanUnlink(pattern, (k) => k.startsWith('_'))) ?? []) removed.add(k);
      await redis.publish(encodeMessage({ o: this.tiers.nodeId, p: pattern }));
    }
    return removed.size;
  }

  /** See CacheService.clear(). */
  async clear(): Promise<number> {
    this.tiers.fence.touchAll();
    const removed = new Set<string>();
    for (const st of this.states.values()) {
      for (const k of st.memory.keys()) removed.add(k);
      st.memory.clear();
    }
    const redis = this.tiers.redis;
    if (redis) {
      const keys = await redis.scanUnlink('*', (k) => k.startsWith('_rl:') || k.startsWith('_lock:'));
      for (const k of keys ?? []) removed.add(k);
      await redis.publish(encodeMessage({ o: this.tiers.nodeId, p: '*' }));
    }
    return removed.size;
  }

  /** Another node changed keys: drop them from this node's memory tier. */
  onMessage(text: string): void {
    const m = decodeMessage(text);
    if (!m || m.o === this.tiers.nodeId) return;
    for (const key of m.k ?? []) {
      this.tiers.fence.touch(key);
      const colon = key.indexOf(':');
      this.byTag.get(colon < 0 ? key : key.slice(0, colon))?.memory.delete(key);
    }
    if (m.p !== undefined) {
      this.tiers.fence.touchAll();
      try {
        this.dropMemory(m.p, globToRegExp(m.p));
      } catch (e) {
        this.log.warn('cache: ignoring an invalidation with a bad pattern', { pattern: m.p, error: (e as Error).message });
      }
    }
  }

  private dropMemory(pattern: string, re: RegExp, into?: Set<string>): void {
    const prefix = literalPrefix(pattern);
    for (const st of this.states.values()) if (prefixMayMatchTag(prefix, st.keys.tag)) st.dropMatching(re, into);
  }
}
