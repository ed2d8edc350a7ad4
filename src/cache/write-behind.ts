// Write-behind: source writes queued after the cache took them, coalesced per key, flushed in batches.
//
// Bounded: at most `maxPending` distinct keys wait. A write to a key already waiting replaces
// its value in place (only the newest value is worth writing), so hot keys never fill the
// queue. When the queue is full, offer() refuses and the service writes that value through
// (source first, synchronously): the caller is slowed down instead of data being dropped or
// memory growing without bound. One batch is in flight at a time, so a key's writes reach the
// source in order. A failed batch goes back into the queue (unless a newer write of the same
// key arrived meanwhile) and is retried with exponential backoff.

import type { Logger } from '../log.js';
import type { Params } from './keys.js';
import type { CacheSource } from './types.js';

export interface WriteBehindOptions {
  /** Distinct keys waiting at most. Default 10,000. */
  maxPending?: number;
  /** Keys written per batch (one storeMany per namespace). Default 500. */
  batchSize?: number;
  /** A waiting write reaches the source within about this long. Default 100 ms. */
  flushMs?: number;
  /** Cap of the retry backoff after a failed batch. Default 5000 ms. */
  retryMaxMs?: number;
}

export interface WriteOp {
  ns: string;
  key: string;
  params: Params;
  kind: 'store' | 'delete';
  value?: unknown;
}

export class WriteBehindQueue {
  readonly counters = { written: 0, failedBatches: 0, overflow: 0 };
  private readonly ops = new Map<string, WriteOp>(); // insertion order ≈ age
  private readonly maxPending: number;
  private readonly batchSize: number;
  private readonly flushMs: number;
  private readonly retryMaxMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<boolean> | undefined;
  private failures = 0;
  private closed = false;

  constructor(opts: WriteBehindOptions, private readonly sourceOf: (ns: string) => CacheSource, private readonly log: Logger) {
    this.maxPending = positive('maxPending', opts.maxPending ?? 10_000);
    this.batchSize = positive('batchSize', opts.batchSize ?? 500);
    this.flushMs = positive('flushMs', opts.flushMs ?? 100);
    this.retryMaxMs = positive('retryMaxMs', opts.retryMaxMs ?? 5000);
  }

  get pending(): number {
    return this.ops.size;
  }

  /** Queues op; false when the queue is full and op's key is not already waiting. */
  offer(op: WriteOp): boolean {
    const id = op.ns + '\u0000' + op.key;
    if (this.ops.has(id)) {
      this.ops.set(id, op); // coalesce: the newest value replaces the waiting one
      return true;
    }
    if (this.ops.size >= this.maxPending || this.closed) {
      this.counters.overflow++;
      return false;
    }
    this.ops.set(id, op);
    this.schedule(this.ops.size >= this.batchSize ? 0 : this.flushMs);
    return true;
  }

  /** The write waiting for this key, if any: a read-through load must see it, not the older source row. */
  peek(ns: string, key: string): WriteOp | undefined {
    return this.ops.get(ns + '\u0000' + key);
  }

  /** Flushes until the queue is empty or `timeoutMs` passed; returns how many keys still wait. */
  async drain(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.ops.size > 0 || this.running) {
      if (Date.now() >= deadline) break;
      const ok = await (this.running ?? this.runBatch());
      if (!ok) await sleep(Math.min(this.backoffMs(), Math.max(0, deadline - Date.now())));
    }
    return this.ops.size;
  }

  /** Stops timers after a final drain; later offers are refused (the caller writes through). */
  async close(timeoutMs = 5000): Promise<void> {
    const left = await this.drain(timeoutMs);
    this.closed = true;
    clearTimeout(this.timer);
    if (left > 0) this.log.error('cache: write-behind closed with writes not stored in their source', { pending: left });
  }

  private schedule(delayMs: number): void {
    if (this.running || this.closed) return;
    if (this.timer && delayMs > 0) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.runBatch();
    }, delayMs);
    this.timer.unref(); // pending writes are drained by close(); they must not keep a process alive
  }

  private backoffMs(): number {
    return Math.min(this.retryMaxMs, 100 * 2 ** Math.min(this.failures, 16));
  }

  /** Writes one batch; resolves true if every write succeeded. Never rejects. */
  private runBatch(): Promise<boolean> {
    if (this.running) return this.running;
    const batch: WriteOp[] = [];
    for (const [id, op] of this.ops) {
      batch.push(op);
      this.ops.delete(id);
      if (batch.length >= this.batchSize) break;
    }
    this.running = this.write(batch).then((failed) => {
      this.running = undefined;
      for (const op of failed) {
        const id = op.ns + '\u0000' + op.key;
        if (!this.ops.has(id)) this.ops.set(id, op); // a newer write of this key wins over the retry
      }
      if (failed.length > 0) {
        this.failures++;
        this.counters.failedBatches++;
      } else this.failures = 0;
      this.counters.written += batch.length - failed.length;
      if (this.ops.size > 0) this.schedule(failed.length > 0 ? this.backoffMs() : this.ops.size >= this.batchSize ? 0 : this.flushMs);
      return failed.length === 0;
    });
    return this.running;
  }

  /** Returns the ops that failed. */
  private async write(batch: WriteOp[]): Promise<WriteOp[]> {
    const byNs = new Map<string, WriteOp[]>();
    for (const op of batch) {
      const list = byNs.get(op.ns);
      if (list) list.push(op);
      else byNs.set(op.ns, [op]);
    }
    const failed: WriteOp[] = [];
    for (const [ns, ops] of byNs) {
      let source: CacheSource;
      try {
        source = this.sourceOf(ns);
      } catch (e) {
        this.log.error('cache: write-behind source missing', { namespace: ns, error: (e as Error).message });
        failed.push(...ops);
        continue;
      }
      const stores = ops.filter((o) => o.kind === 'store');
      const deletes = ops.filter((o) => o.kind === 'delete');
      try {
        if (stores.length > 0 && source.storeMany) await source.storeMany(stores.map((o) => ({ key: o.key, params: o.params, value: o.value })));
        else for (const o of stores) await source.store!(o.key, o.params, o.value);
      } catch (e) {
        this.log.warn('cache: write-behind batch failed; retrying', { namespace: ns, keys: stores.length, error: (e as Error).message });
        failed.push(...stores);
      }
      for (const o of deletes) {
        try {
          await source.delete?.(o.key, o.params);
        } catch (e) {
          this.log.warn('cache: write-behind delete failed; retrying', { namespace: ns, key: o.key, error: (e as Error).message });
          failed.push(o);
        }
      }
    }
    return failed;
  }
}

function positive(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`cache writeBehind option ${name} must be a positive integer, got ${v}`);
  return v;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
