// A supervised actor that cannot start: a permanent failure ends start-up at once, others are retried with backoff.
import { describe, expect, it } from 'vitest';
import { ActorHandle } from '../../src/actors/supervisor/actor-handle.js';
import type { Logger } from '../../src/log.js';

function handle(permanent: boolean) {
  const logged: string[] = [];
  const log: Logger = { debug() {}, info() {}, warn: (m) => logged.push(m), error: (m) => logged.push(m) };
  let spawns = 0;
  const h = new ActorHandle({
    name: 'fixture', entry: '../test/fixtures/failing-actor', log, backoffMs: 10, backoffMaxMs: 20, maxStartFailures: 3,
    prepare: () => {
      spawns++;
      return { workerData: { permanent }, transferList: [], onReady() {}, onGone() {} };
    },
  });
  return { h, logged, spawns: () => spawns };
}

describe('ActorHandle start-up failures', () => {
  it('a permanent failure rejects start() after one attempt, with the actor\'s own message and nothing logged', async () => {
    const { h, logged, spawns } = handle(true);
    await expect(h.start()).rejects.toThrow(/^port 1 is taken \(WEBSOCKET_PORT\)$/);
    expect(spawns()).toBe(1);
    expect(h.state).toBe('stopped');
    expect(logged).toEqual([]);
  });

  it('any other failure is retried with backoff until MAX_START_FAILURES', async () => {
    const { h, spawns } = handle(false);
    await expect(h.start()).rejects.toThrow(/failed to start 3 times in a row/);
    expect(spawns()).toBe(3);
  });
});
