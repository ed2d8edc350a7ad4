// Baseline: the writer's Redis command mix, one awaited command at a time (one round trip each).
// Run: node --import tsx bench/baselines/redis-serial.ts <seconds> <keyPrefix> <batchRows> <depth>
//
// Prints one line: `result {"commands","seconds","cpuSeconds"}`. Uses REDIS_URL (default local).

import { Redis } from 'ioredis';
import { makeRedisBatches } from '../lib/rows.js';
import { commandsOf } from '../lib/redis-mix.js';

const [secs, prefix, batchRows, depth] = process.argv.slice(2);
if (!depth) throw new TypeError('usage: redis-serial.ts <seconds> <keyPrefix> <batchRows> <depth>');
const batches = makeRedisBatches(4, Number(batchRows), Number(depth)).map((b) => commandsOf(b, prefix));
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
await redis.ping();
const until = performance.now() + Number(secs) * 1000;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let commands = 0;
outer: for (let b = 0; ; b = (b + 1) % batches.length) {
  for (const [cmd, ...args] of batches[b]) {
    await redis.call(cmd, ...args);
    commands++;
    if ((commands & 255) === 0 && performance.now() > until) break outer;
  }
}
const seconds = (performance.now() - t0) / 1000;
const c = process.cpuUsage(cpu0);
await redis.quit();
process.stdout.write(`result ${JSON.stringify({ commands, seconds, cpuSeconds: (c.user + c.system) / 1e6 })}\n`);
