// The SPSC queue under a real producer thread: no record lost, duplicated, reordered or torn.
import { spawnWorker } from '../../src/actors/worker-url.js';
import { describe, expect, it } from 'vitest';
import { Doorbell, QueueConsumer, QueueProducer, createDoorbellBuffer, createQueueBuffer } from '../../src/ring/spsc.js';
import { recordLength } from '../fixtures/spsc-pattern.js';

const fixture = (name: string) => new URL(`../fixtures/${name}.ts`, import.meta.url);

describe('SPSC queue', () => {
  it('rejects capacities that are not a power of two', () => {
    expect(() => createQueueBuffer(3000)).toThrow(/power of two/);
  });

  it('reports full instead of overwriting unread records, and wraps with padding', () => {
    const sab = createQueueBuffer(1024);
    const p = new QueueProducer(sab);
    const c = new QueueConsumer(sab);
    let written = 0;
    while (p.reserve(200) >= 0) {
      p.commit(200, written++);
    }
    expect(written).toBe(4); // 4 × (8 header + 200) = 832 ≤ 1024 < 5 × 208
    for (let round = 0; round < 50; round++) {
      expect(c.peek()).toBeGreaterThanOrEqual(0);
      expect(c.aux).toBe(round);
      c.release();
      const at = p.reserve(200);
      expect(at).toBeGreaterThanOrEqual(0);
      p.commit(200, written++);
    }
  });

  it('commit without wake leaves a sleeping consumer asleep until wake()', async () => {
    const sab = createQueueBuffer(1024);
    const p = new QueueProducer(sab);
    const c = new QueueConsumer(sab);
    expect(c.peek()).toBe(-1);
    let woken = false;
    const waiting = c.waitForData(30_000).then(() => (woken = true));
    p.reserve(16);
    p.commit(16, 7, false); // the shard's batched commit: no futex wake
    await new Promise((r) => setTimeout(r, 100));
    expect(woken).toBe(false);
    p.wake(); // the end of the producer's batch
    await waiting;
    expect(woken).toBe(true);
    expect(c.peek()).toBeGreaterThanOrEqual(0);
    expect(c.aux).toBe(7);
  });

  it('carries 2,000,000 records across threads intact and in order', async () => {
    const count = 2_000_000;
    const sab = createQueueBuffer(1 << 16); // small: forces constant wrap-around and full queues
    const c = new QueueConsumer(sab);
    const w = spawnWorker(fixture('spsc-producer'), { workerData: { sab, count } });
    const exited = new Promise<number>((r) => w.on('exit', r));
    let next = 0;
    let torn = 0;
    while (next < count) {
      const at = c.peek();
      if (at < 0) {
        await c.waitForData(1000);
        continue;
      }
      const i = c.f64[at >> 3];
      if (i !== next || c.aux !== next >>> 0 || c.length !== recordLength(next)) {
        throw new Error(`record ${next}: got index ${i}, aux ${c.aux}, length ${c.length}`);
      }
      for (let k = 8; k < c.length; k += 17) if (c.bytes[at + k] !== ((next * 31 + k) & 0xff)) torn++;
      c.release();
      next++;
    }
    expect(torn).toBe(0);
    expect(next).toBe(count);
    expect(c.peek()).toBe(-1);
    expect(await exited).toBe(0);
  });

  describe('doorbell (one consumer, several queues)', () => {
    it('returns at once when a queue has data, sleeps while all are empty, wakes on a ring', async () => {
      const bell = createDoorbellBuffer();
      const queues = [createQueueBuffer(1024), createQueueBuffer(1024)];
      const producers = queues.map((q) => new QueueProducer(q, new Doorbell(bell)));
      const consumers = queues.map((q) => new QueueConsumer(q));
      const d = new Doorbell(bell);
      producers[1].reserve(8);
      producers[1].commit(8, 1);
      const t0 = Date.now();
      await d.wait(consumers, 30_000); // data queued: no sleep
      expect(Date.now() - t0).toBeLessThan(1000);
      expect(consumers[1].peek()).toBeGreaterThanOrEqual(0);
      consumers[1].release();

      let woken = false;
      const waiting = d.wait(consumers, 30_000).then(() => (woken = true));
      await new Promise((r) => setTimeout(r, 100));
      expect(woken).toBe(false); // idle: asleep, not polling
      producers[0].reserve(8);
      producers[0].commit(8, 0, false); // a batched commit does not ring…
      await new Promise((r) => setTimeout(r, 100));
      expect(woken).toBe(false);
      producers[0].wake(); // …the end of the batch does
      await waiting;
      expect(consumers[0].peek()).toBeGreaterThanOrEqual(0);
      expect(consumers[0].aux).toBe(0);
    });

    it('refuses a buffer of the wrong size', () => {
      expect(() => new Doorbell(new SharedArrayBuffer(64))).toThrow(/doorbell/);
    });

    it('carries two producer threads\' records through one sleeping consumer, none lost or reordered', async () => {
      const count = 200_000;
      const bell = createDoorbellBuffer();
      const sabs = [createQueueBuffer(1 << 14), createQueueBuffer(1 << 14)];
      const consumers = sabs.map((sab) => new QueueConsumer(sab));
      const workers = sabs.map((sab, k) => spawnWorker(fixture('doorbell-producer'), { workerData: { sab, doorbell: bell, count, pauseEvery: 5000 + 1000 * k } }));
      const exited = workers.map((w) => new Promise<number>((r) => w.on('exit', r)));
      const d = new Doorbell(bell);
      const next = [0, 0];
      let sleeps = 0;
      while (next[0] < count || next[1] < count) {
        let n = 0;
        for (let k = 0; k < 2; k++) {
          const c = consumers[k];
          // Round-robin, a bounded turn per queue, as the shard reads its inputs.
          for (let at = c.peek(), m = 0; at >= 0 && m < 256; at = c.peek(), m++) {
            const i = c.f64[at >> 3];
            if (i !== next[k] || c.length !== recordLength(i)) throw new Error(`queue ${k}: expected ${next[k]}, got ${i}`);
            c.release();
            next[k]++;
            n++;
          }
        }
        if (n === 0) {
          sleeps++;
          // A wake-up the producers failed to give would hang here past the test's timeout.
          await d.wait(consumers, 60_000);
        }
      }
      expect(next).toEqual([count, count]);
      expect(sleeps).toBeGreaterThan(10); // the pauses did put the consumer to sleep
      expect(await Promise.all(exited)).toEqual([0, 0]);
    }, 60_000);
  });
});
