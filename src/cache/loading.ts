// Loads on a miss, one per key: single-flight in this process, a short Redis lock across nodes; refresh-ahead.
//
// Miss with a loader (source or getOrLoad's):
//   1. a load of this key already in flight here → wait for it (stampede wait, local);
//   2. Redis has the value → fill memory, done;
//   3. SET `_lock:{key}` NX PX lockTtlMs: the winner loads, writes memory + Redis, releases;
//      the others poll Redis every pollMs for the winner's value (stampede wait, lock). If the
//      lock disappears without a value they compete again; after waitMs they load themselves
//      (a dead or slow winner must not hold readers hostage longer than that).
//   Redis down: steps 2–3 are skipped; single-flight still holds within the process.
// A load that returns undefined caches nothing (no negative caching): the next miss loads again.

import type { Logger } from '../log.js';
import { CacheSourceError } from './errors.js';
import type { Params } from './keys.js';
import type { NamespaceState } from './namespace-state.js';
import { type Tiers, serialize } from './tiers.js';
import type { CacheHit, Loader } from './types.js';

export interface LockOptions {
  /** The lock expires after this long if its holder dies. Default 5000 ms. */
  ttlMs?: number;
  /** A waiter loads by itself after this long. Default 3000 ms. */
  waitMs?: number;
  /** A waiter looks for the winner's value this often. Default 20 ms. */
  pollMs?: number;
}

export class Loads {
  private readonly inflight = new Map<string, Promise<CacheHit | undefined>>();
  /** Keys being refreshed ahead; kept apart so a miss never waits on a refresh that may skip. */
  private readonly refreshing = new Set<string>();
  private readonly ttlMs: number;
  private readonly waitMs: number;
  private readonly pollMs: number;
  private seq = 0;

  constructor(private readonly tiers: Tiers, opts: LockOptions, private readonly log: Logger) {
    this.ttlMs = positive('lock.ttlMs', opts.ttlMs ?? 5000);
    this.waitMs = positive('lock.waitMs', opts.waitMs ?? 3000);
    this.pollMs = positive('lock.pollMs', opts.pollMs ?? 20);
  }

  /** The value of a missed key, loading it at most once here (and, with Redis, once across nodes). */
  load(st: NamespaceState, key: string, params: Params, loader: Loader<unknown>): Promise<CacheHit | undefined> {
    const running = this.inflight.get(key);
    if (running) {
      st.waitsLocal++;
      return running;
    }
    const p = this.loadOnce(st, key, params, loader).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  /**
   * Starts a background reload of `key` unless one is running here; never throws, never
   * rejects. (A foreground load of the key, if any, holds the lock: the refresh then skips.)
   */
  refresh(st: NamespaceState, key: string, params: Params, loader: Loader<unknown>): void {
    if (this.refreshing.has(key)) return;
    this.refreshing.add(key);
    void this.refreshOnce(st, key, params, loader).finally(() => this.refreshing.delete(key));
  }

  /** Whether a hit with `remainingMs` of `ttlMs` left is due for refresh-ahead. */
  static due(st: NamespaceState, remainingMs: number, ttlMs: number): boolean {
    const ratio = st.def.refreshAheadRatio;
    return ratio !== undefined && remainingMs < ratio * ttlMs;
  }

  private async loadOnce(st: NamespaceState, key: string, params: Params, loader: Loader<unknown>): Promise<CacheHit | undefined> {
    const fullTtl = st.ttlMs(params);
    const cached = await this.tiers.fromRedis(st, key, fullTtl);
    if (cached) {
      if (Loads.due(st, cached.remainingMs, fullTtl)) this.refresh(st, key, params, loader);
      return cached.hit;
    }
    const redis = this.tiers.redis;
    const deadline = Date.now() + this.waitMs;
    let counted = false;
    for (;;) {
      const token = `${this.tiers.nodeId}:${++this.seq}`;
      const got = redis ? await redis.lock(key, token, this.ttlMs) : 'unavailable';
      if (got !== 'held') {
        try {
          return await this.fetch(st, key, params, loader, fullTtl);
        } finally {
          // Released after the value is in Redis, so a waiter that sees the lock gone finds it.
          if (got === 'acquired') await redis!.unlock(key, token);
        }
      }
      if (!counted) {
        counted = true;
        st.waitsLock++;
      }
      for (;;) {
        if (Date.now() >= deadline) return this.fetch(st, key, params, loader, fullTtl);
        await sleep(this.pollMs);
        const r = await this.tiers.fromRedis(st, key, fullTtl, false);
        if (r) return r.hit;
        if (await redis!.locked(key)) continue;
        // The lock is gone: the winner either stored its value between our two reads (it unlocks
        // only after writing) — read once more, or a second load would follow — or found
        // nothing or died: compete again.
        const late = await this.tiers.fromRedis(st, key, fullTtl, false);
        if (late) return late.hit;
        break;
      }
    }
  }

  /** Calls the loader and writes what it returns to both tiers (as a fill). */
  private async fetch(st: NamespaceState, key: string, params: Params, loader: Loader<unknown>, ttlMs: number): Promise<CacheHit | undefined> {
    const start = this.tiers.fence.now();
    const t0 = performance.now();
    let value: unknown;
    try {
      value = await loader();
    } catch (e) {
      st.loadErrors++;
      throw e instanceof CacheSourceError ? e : new CacheSourceError(st.name, `loading ${key} failed: ${(e as Error)?.message ?? String(e)}`, { cause: e });
    } finally {
      st.latency.load.observe((performance.now() - t0) / 1000);
    }
    if (value === undefined) {
      st.missesSource++;
      return undefined;
    }
    st.hitsSource++;
    await this.tiers.write(st, key, value, serialize(st.name, key, value), ttlMs, 'fill', start);
    return { value, tier: 'source' };
  }

  private async refreshOnce(st: NamespaceState, key: string, params: Params, loader: Loader<unknown>): Promise<void> {
    const redis = this.tiers.redis;
    const token = `${this.tiers.nodeId}:${++this.seq}`;
    // Across nodes one refresh per key: whoever holds the lock refreshes, the others skip.
    const got = redis ? await redis.lock(key, token, this.ttlMs) : 'unavailable';
    if (got === 'held') return;
    const start = this.tiers.fence.now();
    const t0 = performance.now();
    try {
      const value = await loader();
      st.latency.load.observe((performance.now() - t0) / 1000);
      if (value !== undefined) await this.tiers.write(st, key, value, serialize(st.name, key, value), st.ttlMs(params), 'refresh', start);
    } catch (e) {
      st.loadErrors++;
      // Background work: the current value keeps being served until it expires; the next miss
      // loads in the foreground and reports the error to its caller.
      this.log.warn('cache: refresh-ahead failed', { namespace: st.name, key, error: (e as Error)?.message ?? String(e) });
    } finally {
      if (got === 'acquired') await redis!.unlock(key, token);
    }
  }
}

function positive(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`cache option ${name} must be a positive integer (ms), got ${v}`);
  return v;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
