// Baseline: the writer's Redis command mix as individual commands with ioredis `enableAutoPipelining`.
// Run: node --import tsx bench/baselines/redis-autopipeline.ts <seconds> <keyPrefix> <batchRows> <depth> [batchesInFlight]
//
// Commands are issued without awaiting each one (ioredis gathers those of one event-loop tick
// into one write), but bounded: at most `batchesInFlight` (default 2, the writer's maxInFlight)
// batches of commands await their replies, since un-awaited commands otherwise pile up in memory.
// Prints one line: `result {"commands","seconds","cpuSeconds"}`. Uses REDIS_URL (default local).

import { Redis } from 'ioredis';
import { makeRedisBatches } from '../lib/rows.js';
import { commandsOf } from '../lib/redis-mix.js';

const [secs, prefix, batchRows, depth, inFlight = '2'] = process.argv.slice(2);
if (!depth) throw new TypeError('usage: redis-autopipeline.ts <seconds> <keyPrefix> <batchRows> <depth> [batchesInFlight]');
const batches = makeRedisBatches(4, Number(batchRows), Number(depth)).map((b) => commandsOf(b, prefix));
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { enableAutoPipelining: true });
await redis.ping();
const until = performance.now() + Number(secs) * 1000;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let commands = 0;
const pending: Promise<unknown>[] = [];
for (let b = 0; performance.now() < until; b = (b + 1) % batches.length) {
  if (pending.length >= Number(inFlight)) await pending.shift();
  const batch = batches[b];
  pending.push(Promise.all(batch.map(([cmd, ...args]) => redis.call(cmd, ...args))));
  commands += batch.length;
}
await Promise.all(pending);
const seconds = (performance.now() - t0) / 1000;
const c = process.cpuUsage(cpu0);
await redis.quit();
process.stdout.write(`result ${JSON.stringify({ commands, seconds, cpuSeconds: (c.user + c.system) / 1e6 })}\n`);
