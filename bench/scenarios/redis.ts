// redis: commands/s from the writer's Redis pipelines vs one awaited command at a time, auto-pipelining, redis-benchmark.
// Run: npm run bench -- redis [--quick]
//
// Same command mix for all (src/store/redis-tier.ts): batches of WRITER_BATCH_ROWS frames as the
// writer's BatchBuilder encodes them; per symbol SET :latest EX, LPUSH :history, LTRIM, EXPIRE,
// then one PUBLISH per frame (so ~96% of the commands are PUBLISH of a ~1 KB frame).
//   tickplant            RedisTier.writeBatch() driven directly in this process, maxInFlight 2 as the
//                        writer sets it: a refused batch waits 1 ms and is offered again
//   redis-autopipeline   ioredis enableAutoPipelining, commands not awaited one by one, 2 batches in flight
//   redis-serial         one awaited command at a time
//   redis-benchmark      `redis-benchmark -c 1 -P 32` PUBLISH of one such frame: the floor (one connection,
//                        as the writer has; C client, no encoding)
// Everything runs under a unique key and channel prefix, deleted at the end.
//
// CPU: "server" here is the client process that sends the commands (the writer's thread in
// production); Redis's own CPU (redis-server) is reported beside it.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { RedisConnections } from '../../src/store/redis-connections.js';
import { RedisTier } from '../../src/store/redis-tier.js';
import { runBaseline } from '../lib/process.js';
import { HISTORY_LENGTH, TTL_SECONDS } from '../lib/redis-mix.js';
import {
  type ScenarioResult, type Series, type SystemFigures, commandCpuMeter, machine, machineCpuMeter, printTable, ratio, round,
  scenarioArgs, versions, writeResult,
} from '../lib/report.js';
import { makeRedisBatches } from '../lib/rows.js';

const { quick } = scenarioArgs();
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const DEPTH = 20; // BOOK_DEPTH's default: the frames the writer publishes
const BATCH_ROWS = 2000; // WRITER_BATCH_ROWS's default
const P = quick ? { windowS: 3, serialS: 2, benchmarkRequests: 200_000 } : { windowS: 15, serialS: 10, benchmarkRequests: 3_000_000 };
const prefix = `tp_bench_redis_${process.pid}:`;

const startedAt = new Date();
const t0 = performance.now();
const systems: SystemFigures[] = [];
const series: Series[] = [];
const notes: string[] = [
  'commandsPerServerCpuSecond divides by the CPU of the process sending the commands (the writer thread in production); commandsPerRedisCpuSecond by redis-server\'s',
];
const batches = makeRedisBatches(4, BATCH_ROWS, DEPTH);
const frameBytes = Math.round(batches[0].reduce((a, it) => a + it.latest.length, 0) / BATCH_ROWS);
notes.push(`${BATCH_ROWS}-frame batches of ${DEPTH}-level orderbook_update frames, ${frameBytes} bytes per frame on average`);

function figures(commands: number, seconds: number, clientCpuS: number, redisCpuS: number): Record<string, number> {
  return {
    commandsPerSecond: round(commands / seconds),
    commandsPerServerCpuSecond: round(commands / clientCpuS),
    commandsPerRedisCpuSecond: round(commands / redisCpuS),
    commands,
    seconds: round(seconds),
    clientCpuSeconds: round(clientCpuS),
    redisCpuSeconds: round(redisCpuS),
  };
}

async function tickplantTier(): Promise<void> {
  const log = { warn: (m: string, f?: object) => process.stderr.write(`redis-tier: ${m} ${JSON.stringify(f ?? {})}\n`), info: () => {} };
  const tier = new RedisTier({
    connections: new RedisConnections({ url: REDIS_URL, maxConnections: 1 }), ttlSeconds: TTL_SECONDS, historyLength: HISTORY_LENGTH, channelPrefix: prefix, keyPrefix: prefix, maxInFlight: 2, log,
  });
  await tier.connect();
  const redisCpu = commandCpuMeter('redis-server');
  const busy = machineCpuMeter();
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const until = start + P.windowS * 1000;
  const points: { x: number; y: number }[] = [];
  let nextSample = start + 1000;
  let sampled = 0;
  let refused = 0;
  for (let b = 0; performance.now() < until;) {
    if (tier.writeBatch(batches[b])) b = (b + 1) % batches.length;
    else {
      refused++;
      await new Promise((r) => setTimeout(r, 1)); // both pipelines in flight: the writer too would wait
    }
    const now = performance.now();
    if (now >= nextSample) {
      points.push({ x: Math.round((now - start) / 100) / 10, y: Math.round((tier.counters.commands - sampled) / ((now - nextSample + 1000) / 1000)) });
      sampled = tier.counters.commands;
      nextSample = now + 1000;
    }
  }
  await tier.whenIdle(); // count only commands answered
  const seconds = (performance.now() - start) / 1000;
  const c = process.cpuUsage(cpu0);
  const clientCpu = (c.user + c.system) / 1e6;
  const serverCpu = redisCpu.seconds();
  const f = figures(tier.counters.commands, seconds, clientCpu, serverCpu);
  // Cores busy with neither this process nor Redis: other work competing with the window.
  f.otherProcessesCores = round(Math.max(0, busy.seconds() - clientCpu - serverCpu) / seconds);
  if (f.otherProcessesCores > 0.3) notes.push(`tickplant's window was contended: other processes used ${f.otherProcessesCores} cores; read its figures as a lower bound`);
  const lat = tier.latencySummary();
  f.pipelineP50Ms = lat.p50_ms;
  f.pipelineP99Ms = lat.p99_ms;
  f.errors = tier.counters.errors;
  systems.push({ system: 'tickplant', figures: f, notes: `RedisTier.writeBatch, ${tier.counters.batches} pipelines, ${refused} offers refused at maxInFlight 2 and retried` });
  series.push({ kind: 'throughput-over-time', system: 'tickplant', label: 'commands/s', points });
  if (tier.counters.errors > 0) throw new Error(`RedisTier reported ${tier.counters.errors} failed commands`);
  await tier.close();
}

async function baseline(name: string, program: string, seconds: number): Promise<void> {
  const redisCpu = commandCpuMeter('redis-server');
  const r = await runBaseline<{ commands: number; seconds: number; cpuSeconds: number }>(
    program, [String(seconds), prefix, String(BATCH_ROWS), String(DEPTH)], { REDIS_URL });
  systems.push({ system: name, figures: figures(r.commands, r.seconds, r.cpuSeconds, redisCpu.seconds()) });
}

/** CPU of this process's reaped children (cutime + cstime, in clock ticks of 1/100 s on Linux). */
function childrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / 100;
}

async function redisBenchmark(): Promise<void> {
  const u = new URL(REDIS_URL);
  const frame = batches[0][0].latest.toString();
  const redisCpu = commandCpuMeter('redis-server');
  const c0 = childrenCpuSeconds();
  const start = performance.now();
  const child = spawn('redis-benchmark', ['-h', u.hostname, '-p', u.port || '6379', '-c', '1', '-P', '32', '-n', String(P.benchmarkRequests), '--csv',
    'PUBLISH', `${prefix}US.AAPL`, frame], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  const [code] = await once(child, 'exit');
  const seconds = (performance.now() - start) / 1000;
    // The test name holds the frame (its quotes doubled by the CSV): read rps from the end of the line.
  const rps = Number(/"([\d.]+)"(?:,"[\d.]+"){6}\s*$/.exec(out)?.[1]);
  if (code !== 0 || !Number.isFinite(rps)) throw new Error(`redis-benchmark failed (exit ${code}): ${out.slice(-500)}`);
  const f = figures(P.benchmarkRequests, P.benchmarkRequests / rps, childrenCpuSeconds() - c0, redisCpu.seconds());
  f.wallSeconds = round(seconds);
  systems.push({ system: 'redis-benchmark -P 32', figures: f, notes: 'PUBLISH of one frame, 1 connection, pipeline 32; its own rps' });
}

async function cleanUp(): Promise<number> {
  const r = new Redis(REDIS_URL);
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await r.del(...keys);
  } while (cursor !== '0');
  await r.quit();
  return deleted;
}

try {
  await tickplantTier();
  await baseline('ioredis auto-pipelining', 'redis-autopipeline.ts', P.windowS);
  await baseline('redis-serial', 'redis-serial.ts', P.serialS);
  await redisBenchmark();
} finally {
  notes.push(`${await cleanUp()} keys under ${prefix} deleted afterwards`);
}

const fig = (name: string) => systems.find((s) => s.system.startsWith(name))!.figures;
const tp = fig('tickplant');
const ratios = [
  ratio('commandsPerSecond', tp.commandsPerSecond, 'redis-serial', fig('redis-serial').commandsPerSecond, false, 10),
  ratio('commandsPerSecond', tp.commandsPerSecond, 'ioredis auto-pipelining', fig('ioredis').commandsPerSecond, false, 1.3),
  ratio('commandsPerSecond', tp.commandsPerSecond, 'redis-benchmark -P 32', fig('redis-benchmark').commandsPerSecond),
  ratio('commandsPerServerCpuSecond', tp.commandsPerServerCpuSecond, 'redis-serial', fig('redis-serial').commandsPerServerCpuSecond),
  ratio('commandsPerServerCpuSecond', tp.commandsPerServerCpuSecond, 'ioredis auto-pipelining', fig('ioredis').commandsPerServerCpuSecond),
  ratio('commandsPerServerCpuSecond', tp.commandsPerServerCpuSecond, 'redis-benchmark -P 32', fig('redis-benchmark').commandsPerServerCpuSecond),
];
const usPerCommand = Math.round(1e6 / tp.commandsPerServerCpuSecond);
const redisShare = Math.round((100 * tp.redisCpuSeconds) / tp.seconds);
const bound = `the client thread: ioredis builds a Command and a promise per command (${usPerCommand} µs of client CPU each), while redis-server used ${redisShare}% of a core; see bench/README.md profiling notes`;
const absMet = tp.commandsPerSecond >= 300_000;
const result: ScenarioResult = {
  scenario: 'redis',
  quick,
  startedAt: startedAt.toISOString(),
  durationS: round((performance.now() - t0) / 1000),
  machine: machine(),
  versions: versions(),
  parameters: { ...P, depth: DEPTH, batchRows: BATCH_ROWS, maxInFlight: 2, frameBytes, commandsPerBatch: batches[0].length + 4 * 20 },
  systems,
  ratios,
  series,
  targets: [
    { figure: 'commands/s', target: '>= 300,000', measured: tp.commandsPerSecond, met: absMet, ...(absMet ? {} : { bound }) },
    { figure: 'commands/s vs one awaited command at a time', target: '>= 10x', measured: ratios[0].value, met: ratios[0].met!, ...(ratios[0].met ? {} : { bound }) },
    { figure: 'commands/s vs ioredis auto-pipelining', target: '>= 1.3x', measured: ratios[1].value, met: ratios[1].met!, ...(ratios[1].met ? {} : { bound }) },
  ],
  notes,
};
writeResult(result);
printTable(result);
