// Single-producer/single-consumer queue of variable-length records in a SharedArrayBuffer.
//
// Layout and the reason for it: layout.ts (SPSC_*). One producer thread and one consumer
// thread per queue, never more. Records are 8-byte aligned so callers can view payloads
// through Float64Array/Uint32Array at `offset >> 3` / `offset >> 2`.
//
// Producer:  const at = q.reserve(bytes); if (at < 0) full…; write payload at `at`; q.commit(len, aux)
// Consumer:  for (let at = q.peek(); at >= 0; at = q.peek()) { read q.length/q.aux at `at`; q.release() }
//
// A consumer of several queues (a shard: the supervisor's and each feed actor's) sleeps on one
// Doorbell that every producer of those queues rings (`new QueueProducer(sab, doorbell)`).
//
// Nothing here allocates after construction, except the promise of a wait that goes to sleep.

import {
  DOORBELL_BYTES, DOORBELL_RING, DOORBELL_WAITING,
  PAD_MARKER, SPSC_DATA_OFFSET, SPSC_HEAD, SPSC_RECORD_HEADER, SPSC_TAIL, SPSC_WAITING, isPowerOfTwo,
} from './layout.js';

export function createQueueBuffer(capacityBytes: number): SharedArrayBuffer {
  if (!isPowerOfTwo(capacityBytes) || capacityBytes < 1024) {
    throw new RangeError(`queue capacity must be a power of two >= 1024 bytes, got ${capacityBytes}`);
  }
  return new SharedArrayBuffer(SPSC_DATA_OFFSET + capacityBytes);
}

const align8 = (n: number): number => (n + 7) & ~7;

/** Views shared by both ends. */
class QueueViews {
  readonly ctrl: Int32Array;
  /** Data region views; byte offsets returned by reserve/peek index into `bytes`. */
  readonly bytes: Uint8Array;
  readonly u32: Uint32Array;
  readonly f64: Float64Array;
  readonly capacity: number;
  readonly mask: number;

  constructor(readonly sab: SharedArrayBuffer) {
    this.ctrl = new Int32Array(sab, 0, SPSC_DATA_OFFSET >> 2);
    this.capacity = sab.byteLength - SPSC_DATA_OFFSET;
    if (!isPowerOfTwo(this.capacity)) throw new RangeError('queue buffer data region is not a power of two');
    this.mask = this.capacity - 1;
    this.bytes = new Uint8Array(sab, SPSC_DATA_OFFSET, this.capacity);
    this.u32 = new Uint32Array(sab, SPSC_DATA_OFFSET, this.capacity >> 2);
    this.f64 = new Float64Array(sab, SPSC_DATA_OFFSET, this.capacity >> 3);
  }

  /** Bytes currently queued (producer's or consumer's view; exact only on the owning side). */
  depth(): number {
    return (Atomics.load(this.ctrl, SPSC_HEAD) - Atomics.load(this.ctrl, SPSC_TAIL)) >>> 0;
  }
}

export class QueueProducer extends QueueViews {
  /** Local copy of HEAD: only this thread writes it, so it never needs reloading. */
  private head: number;
  /** Last TAIL seen: reloaded only when the queue looks full (saves a shared load per record). */
  private tailCache: number;
  private reservedAt = -1;
  private reservedHead = 0;

  /** With a doorbell, wake() rings it instead of the queue's own futex (its consumer reads several queues). */
  constructor(sab: SharedArrayBuffer, private readonly doorbell?: Doorbell) {
    super(sab);
    // A restarted producer continues where the previous one committed; anything it had
    // reserved but not committed was never visible and is simply overwritten.
    this.head = Atomics.load(this.ctrl, SPSC_HEAD) >>> 0;
    this.tailCache = Atomics.load(this.ctrl, SPSC_TAIL) >>> 0;
  }

  /**
   * Reserves room for a payload of up to `maxBytes`; returns the payload's byte offset in
   * `bytes`, or -1 when the queue is full. Nothing is visible until `commit`.
   */
  reserve(maxBytes: number): number {
    const need = SPSC_RECORD_HEADER + align8(maxBytes);
    if (need > this.capacity >>> 1) throw new RangeError(`record of ${maxBytes} bytes exceeds half the queue`);
    let head = this.head;
    let slot = head & this.mask;
    const toEnd = this.capacity - slot;
    // A record never wraps: if it does not fit before the end, pad to the end first.
    const padding = toEnd < need ? toEnd : 0;
    if (!this.hasRoom(head, padding + need)) return -1;
    if (padding > 0) {
      this.u32[slot >> 2] = PAD_MARKER;
      head = (head + padding) >>> 0;
      slot = 0;
    }
    this.reservedHead = head;
    this.reservedAt = slot + SPSC_RECORD_HEADER;
    return this.reservedAt;
  }

  private hasRoom(head: number, bytes: number): boolean {
    if (((head - this.tailCache) >>> 0) + bytes <= this.capacity) return true;
    // Acquire the consumer's progress: pairs with its Atomics.store of TAIL in release().
    this.tailCache = Atomics.load(this.ctrl, SPSC_TAIL) >>> 0;
    return ((head - this.tailCache) >>> 0) + bytes <= this.capacity;
  }

  /**
   * Publishes the reserved record with its actual payload length and an aux word. With
   * `wake = false` a sleeping consumer is not woken: the producer must call wake() before it
   * stops producing (the end of its batch), or the consumer sleeps until its wait times out.
   */
  commit(length: number, aux: number, wake = true): void {
    const at = this.reservedAt;
    if (at < 0) throw new Error('commit without reserve');
    const hdr = (at - SPSC_RECORD_HEADER) >> 2;
    this.u32[hdr] = length;
    this.u32[hdr + 1] = aux;
    this.head = (this.reservedHead + SPSC_RECORD_HEADER + align8(length)) >>> 0;
    this.reservedAt = -1;
    // Release: the payload and header writes above become visible before the new HEAD.
    Atomics.store(this.ctrl, SPSC_HEAD, this.head | 0);
    if (wake) this.wake();
  }

  /** Wakes the consumer if it announced it sleeps. */
  wake(): void {
    if (this.doorbell !== undefined) {
      this.doorbell.ring();
      return;
    }
    // Dekker pairing with the consumer's WAITING store + HEAD re-check: one of the two sides
    // always sees the other, so a sleeping consumer is never left asleep with data queued.
    if (Atomics.load(this.ctrl, SPSC_WAITING) !== 0) Atomics.notify(this.ctrl, SPSC_HEAD, 1);
  }

  /** Free bytes right now (for stats; reloads TAIL). */
  free(): number {
    this.tailCache = Atomics.load(this.ctrl, SPSC_TAIL) >>> 0;
    return this.capacity - ((this.head - this.tailCache) >>> 0);
  }
}

export class QueueConsumer extends QueueViews {
  private tail: number;
  private headCache: number;
  private nextTail = 0;
  /** Payload length and aux word of the record last returned by `peek`. */
  length = 0;
  aux = 0;

  constructor(sab: SharedArrayBuffer) {
    super(sab);
    this.tail = Atomics.load(this.ctrl, SPSC_TAIL) >>> 0;
    this.headCache = this.tail;
  }

  /** Byte offset of the next record's payload, or -1 when empty. Does not consume it. */
  peek(): number {
    let tail = this.tail;
    if (tail === this.headCache) {
      // Acquire: pairs with the producer's Atomics.store of HEAD in commit().
      this.headCache = Atomics.load(this.ctrl, SPSC_HEAD) >>> 0;
      if (tail === this.headCache) return -1;
    }
    let slot = tail & this.mask;
    if (this.u32[slot >> 2] === PAD_MARKER) {
      tail = (tail + (this.capacity - slot)) >>> 0;
      this.tail = tail;
      slot = 0;
    }
    this.length = this.u32[slot >> 2];
    this.aux = this.u32[(slot >> 2) + 1];
    this.nextTail = (tail + SPSC_RECORD_HEADER + align8(this.length)) >>> 0;
    return slot + SPSC_RECORD_HEADER;
  }

  /** True when a record is queued (one shared load; the doorbell's re-check before it sleeps). */
  hasData(): boolean {
    // Acquire: pairs with the producer's Atomics.store of HEAD in commit().
    return Atomics.load(this.ctrl, SPSC_HEAD) >>> 0 !== this.tail;
  }

  /** Queue position of the record last returned by `peek` (identifies it across restarts). */
  get position(): number {
    return this.tail;
  }

  /** Consumes the record last returned by `peek`, freeing its bytes for the producer. */
  release(): void {
    this.tail = this.nextTail;
    // Release: our reads of the payload complete before the producer may overwrite it.
    Atomics.store(this.ctrl, SPSC_TAIL, this.tail | 0);
  }

  /**
   * Resolves when the producer commits after `peek()` returned -1 (or after `timeoutMs`).
   * Uses Atomics.waitAsync so the consumer's event loop (control messages, sockets) keeps
   * running while it waits: a blocking Atomics.wait would starve its MessagePorts.
   */
  async waitForData(timeoutMs: number): Promise<void> {
    const seen = this.headCache | 0;
    Atomics.store(this.ctrl, SPSC_WAITING, 1);
    // Re-check after announcing we sleep: the producer may have committed in between.
    if (Atomics.load(this.ctrl, SPSC_HEAD) !== seen) {
      Atomics.store(this.ctrl, SPSC_WAITING, 0);
      return;
    }
    const r = Atomics.waitAsync(this.ctrl, SPSC_HEAD, seen, timeoutMs);
    if (r.async) await r.value;
    Atomics.store(this.ctrl, SPSC_WAITING, 0);
  }
}

export function createDoorbellBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(DOORBELL_BYTES);
}

/**
 * Wakes one consumer of several SPSC queues (layout.ts DOORBELL_*): every producer of those
 * queues rings it after a commit, the consumer waits on it when all its queues are empty.
 * Each thread makes its own Doorbell over the shared buffer.
 */
export class Doorbell {
  private readonly ctrl: Int32Array;

  constructor(readonly sab: SharedArrayBuffer) {
    if (sab.byteLength !== DOORBELL_BYTES) throw new RangeError(`a doorbell buffer is ${DOORBELL_BYTES} bytes, got ${sab.byteLength}`);
    this.ctrl = new Int32Array(sab);
  }

  /** Producer side, after HEAD was stored: wakes the consumer if it announced it sleeps. */
  ring(): void {
    // Dekker pairing with wait(): our HEAD store precedes this load, its WAITING store precedes
    // its HEAD re-check, so either it sees our record or we see it waiting.
    if (Atomics.load(this.ctrl, DOORBELL_WAITING) === 0) return;
    // Bump before notify: a consumer between its RING read and its waitAsync then finds the
    // value changed and does not sleep at all.
    Atomics.add(this.ctrl, DOORBELL_RING, 1);
    Atomics.notify(this.ctrl, DOORBELL_RING, 1);
  }

  /**
   * Resolves at once when any of `queues` has a record, else when a producer rings (or after
   * `timeoutMs`). Atomics.waitAsync keeps the consumer's event loop (control port) running.
   */
  async wait(queues: readonly QueueConsumer[], timeoutMs: number): Promise<void> {
    Atomics.store(this.ctrl, DOORBELL_WAITING, 1);
    const seen = Atomics.load(this.ctrl, DOORBELL_RING);
    // Re-check after announcing we sleep: a producer may have committed before it could see us.
    for (let i = 0; i < queues.length; i++) {
      if (queues[i].hasData()) {
        Atomics.store(this.ctrl, DOORBELL_WAITING, 0);
        return;
      }
    }
    const r = Atomics.waitAsync(this.ctrl, DOORBELL_RING, seen, timeoutMs);
    if (r.async) await r.value;
    Atomics.store(this.ctrl, DOORBELL_WAITING, 0);
  }
}
