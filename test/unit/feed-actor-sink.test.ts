// The feed actor as a connector's sink: a book a full input queue refuses is kept and queued later, unless a newer book or a resync comes first.
import { describe, expect, it } from 'vitest';
import { FeedActor } from '../../src/actors/feed/feed.js';
import type { FeedInit } from '../../src/actors/feed/messages.js';
import type { Connector } from '../../src/feeds/connector.js';
import { KIND_SNAPSHOT, createBookUpdate } from '../../src/feeds/types.js';
import { IN_KIND, IN_LEVELS, KIND_RESYNCING } from '../../src/ring/layout.js';
import { QueueConsumer, createDoorbellBuffer, createQueueBuffer } from '../../src/ring/spsc.js';

const QUEUE_BYTES = 1 << 16;

function rig(owedResyncing: number[] = []) {
  const input = createQueueBuffer(QUEUE_BYTES);
  const init = {
    exchange: 'test', symbols: [{ native: 'A', served: 'TEST.A', id: 7, shard: 0 }],
    inputs: [input], doorbells: [createDoorbellBuffer()], owedResyncing,
  } as unknown as FeedInit;
  const connector = { start: () => undefined, stop: async () => undefined, stats: () => ({}) } as unknown as Connector;
  const actor = new FeedActor(init, connector);
  const q = new QueueConsumer(input);
  const u = createBookUpdate(20);
  const book = (bid: number) => {
    u.symbol = 'TEST.A';
    u.kind = KIND_SNAPSHOT;
    u.bidCount = 20;
    u.askCount = 20;
    for (let i = 0; i < 20; i++) {
      u.bidPx[i] = bid - i;
      u.bidSz[i] = 1;
      u.askPx[i] = bid + 1 + i;
      u.askSz[i] = 1;
    }
    return actor.book(u, false, 0);
  };
  /** Every record queued, as [kind, best bid]; drains the queue. */
  const drain = () => {
    const out: [number, number][] = [];
    for (let at = q.peek(); at >= 0; at = q.peek()) {
      out.push([q.u32[(at >> 2) + IN_KIND], q.f64[(at >> 3) + IN_LEVELS]]);
      q.release();
    }
    return out;
  };
  return { actor, book, drain };
}

const settle = () => new Promise((r) => setTimeout(r, 50));

describe('FeedActor sink', () => {
  it('queues the last refused book once there is room, not the ones it replaced', async () => {
    const { actor, book, drain } = rig();
    let bid = 1000;
    while (actor.stats().queueFullDrops === 0) book(bid++); // fill the queue; the last one is refused
    const lastQueued = bid - 2;
    book(5000); // refused as well: it replaces the held one
    expect(drain().at(-1)).toEqual([KIND_SNAPSHOT, lastQueued]);
    await settle(); // the retry finds room
    expect(drain()).toEqual([[KIND_SNAPSHOT, 5000]]);
    await settle();
    expect(drain()).toEqual([]); // queued once
    await actor.close();
  });

  it('drops a held book when the symbol starts resyncing: a book from before must not end the resync', async () => {
    const { actor, book, drain } = rig();
    let bid = 1000;
    while (actor.stats().queueFullDrops === 0) book(bid++);
    drain();
    actor.resyncing('TEST.A', 'gap');
    await settle();
    expect(drain().map(([kind]) => kind)).toEqual([KIND_RESYNCING]);
    await actor.close();
  });

  it('queues, before anything else, the restart statuses its predecessor\'s death could not', async () => {
    const { actor, book, drain } = rig([7]);
    actor.start();
    book(1000);
    expect(drain().map(([kind]) => kind)).toEqual([KIND_RESYNCING, KIND_SNAPSHOT]);
    await actor.close();
  });
});
