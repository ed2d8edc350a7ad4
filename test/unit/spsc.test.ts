// The SPSC queue under a real producer thread: no record lost, duplicated, reordered or torn.
import { spawnWorker } from '../../src/actors/worker-url.js';
import { describe, expect, it } from 'vitest';
import { QueueConsumer, QueueProducer, createQueueBuffer } from '../../src/ring/spsc.js';
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
});
