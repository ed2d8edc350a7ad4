// What every scenario shares: machine and version facts, CPU of a process, histograms, ratios, result files, tables.
//
// A result file (`bench/results/<scenario>.json`) is the single source of every figure the
// bench README and the charts show: nothing is typed in by hand.

import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, platform, release, totalmem } from 'node:os';
import hdr from 'hdr-histogram-js';

export const RESULTS_DIR = new URL('../results/', import.meta.url);

/** One system measured in a scenario (tickplant or a baseline) and its figures, with units in the names. */
export interface SystemFigures {
  system: string;
  /** e.g. { deliveriesPerSecond: …, deliveriesPerServerCpuSecond: …, latencyP99Ms: … } */
  figures: Record<string, number>;
  notes?: string;
}

/** tickplant's figure divided by a baseline's (or the inverse for lower-is-better figures). */
export interface Ratio {
  figure: string;
  against: string;
  /** > 1 means tickplant is better by that factor. */
  value: number;
  target?: number;
  met?: boolean;
}

/** A named series for the charts: latency percentiles (x = percentile) or throughput over time (x = seconds). */
export interface Series {
  kind: 'latency-percentiles' | 'throughput-over-time';
  system: string;
  label: string;
  points: { x: number; y: number }[];
}

export interface ScenarioResult {
  scenario: string;
  quick: boolean;
  startedAt: string;
  durationS: number;
  machine: ReturnType<typeof machine>;
  versions: Record<string, string>;
  parameters: Record<string, unknown>;
  systems: SystemFigures[];
  ratios: Ratio[];
  series: Series[];
  /** The targets the scenario is held to and whether they were met; `bound` names the bottleneck where missed. */
  targets: { figure: string; target: string; measured: number | string; met: boolean; bound?: string }[];
  /** The load generator's own CPU, reported beside the server's. */
  generator?: { cpuSeconds: number; cpuShare: number };
  notes: string[];
}

export function machine() {
  const c = cpus();
  return {
    cpuModel: c[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    platform: `${platform()} ${release()}`,
    loadAverageAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

const pkg = (name: string): string => {
  try {
    return (JSON.parse(readFileSync(new URL(`../../node_modules/${name}/package.json`, import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'absent';
  }
};

const command = (file: string, args: string[]): string => {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n')[0];
  } catch {
    return 'absent';
  }
};

export function versions(): Record<string, string> {
  return {
    node: process.version,
    tickplant: pkg('../'),
    'uWebSockets.js': pkg('uWebSockets.js'),
    ws: pkg('ws'),
    'socket.io': pkg('socket.io'),
    pg: pkg('pg'),
    'pg-copy-streams': pkg('pg-copy-streams'),
    ioredis: pkg('ioredis'),
    postgresql: command('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-tAc', 'show server_version']),
    redis: command('redis-server', ['--version']),
    gcc: command('gcc', ['--version']),
  };
}

const CLK_TCK = Number(command('getconf', ['CLK_TCK'])) || 100;

/**
 * CPU seconds (user + system, all threads) a process has used so far, from /proc/<pid>/stat.
 * Works for any child (a baseline server, tickplant, a C load generator), unlike process.cpuUsage.
 */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK; // utime, stime (fields 14 and 15 of the whole line)
}

/** Measures a process's CPU over an interval: `const m = cpuMeter(pid); …; m.seconds()`. */
export function cpuMeter(pid: number): { seconds(): number } {
  const start = processCpuSeconds(pid);
  return { seconds: () => processCpuSeconds(pid) - start };
}

/**
 * A latency histogram in microseconds, 1 µs to 60 s, 3 significant digits. Record with
 * `recordValueWithExpectedInterval(us, expectedIntervalUs)` for coordinated-omission correction
 * when the load has a fixed schedule.
 */
export function latencyHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3, bitBucketSize: 64, useWebAssembly: false });
}

export const PERCENTILES = [50, 75, 90, 95, 99, 99.9, 99.99] as const;

/** Percentile series for a chart, in milliseconds from a microsecond histogram. */
export function percentileSeries(system: string, label: string, h: hdr.Histogram): Series {
  return { kind: 'latency-percentiles', system, label, points: PERCENTILES.map((p) => ({ x: p, y: h.getValueAtPercentile(p) / 1000 })) };
}

export function latencyFigures(h: hdr.Histogram, prefix = 'latency'): Record<string, number> {
  const ms = (p: number) => Math.round(h.getValueAtPercentile(p)) / 1000;
  return { [`${prefix}P50Ms`]: ms(50), [`${prefix}P99Ms`]: ms(99), [`${prefix}P999Ms`]: ms(99.9), [`${prefix}MaxMs`]: Math.round(h.maxValue) / 1000, [`${prefix}Samples`]: h.totalCount };
}

/** tickplant ÷ baseline for higher-is-better figures, baseline ÷ tickplant for lower-is-better. */
export function ratio(figure: string, ours: number, against: string, theirs: number, lowerIsBetter = false, target?: number): Ratio {
  const value = lowerIsBetter ? theirs / ours : ours / theirs;
  const r: Ratio = { figure, against, value: Math.round(value * 100) / 100 };
  if (target !== undefined) {
    r.target = target;
    r.met = value >= target;
  }
  return r;
}

export function writeResult(r: ScenarioResult): URL {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = new URL(`${r.scenario}${r.quick ? '.quick' : ''}.json`, RESULTS_DIR);
  writeFileSync(file, JSON.stringify(r, null, 2) + '\n');
  return file;
}

/** A fixed-width text table: systems as rows, the union of their figures as columns. */
export function printTable(r: ScenarioResult): void {
  const cols = [...new Set(r.systems.flatMap((s) => Object.keys(s.figures)))];
  const fmt = (v: number | undefined) => (v === undefined ? '—' : Math.abs(v) >= 1000 ? Math.round(v).toLocaleString('en-US') : String(Math.round(v * 1000) / 1000));
  const rows = [['system', ...cols], ...r.systems.map((s) => [s.system, ...cols.map((c) => fmt(s.figures[c]))])];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  process.stdout.write(`\n== ${r.scenario}${r.quick ? ' (quick)' : ''} ==\n`);
  for (const row of rows) process.stdout.write(row.map((v, i) => v.padEnd(widths[i])).join('  ') + '\n');
  for (const q of r.ratios) {
    process.stdout.write(`  ${q.figure} vs ${q.against}: ${q.value}x${q.target !== undefined ? ` (target ${q.target}x: ${q.met ? 'met' : 'missed'})` : ''}\n`);
  }
  for (const t of r.targets) process.stdout.write(`  target ${t.figure} ${t.target}: ${t.measured} — ${t.met ? 'met' : `missed${t.bound ? ` (bound: ${t.bound})` : ''}`}\n`);
  for (const n of r.notes) process.stdout.write(`  note: ${n}\n`);
}

/** Parses the common flags of a scenario entry file: `--quick`. */
export function scenarioArgs(argv = process.argv.slice(2)): { quick: boolean } {
  return { quick: argv.includes('--quick') };
}

/**
 * CPU seconds used by every process named `comm` (e.g. `postgres`, `redis-server`), including
 * children they have reaped (cutime/cstime): a PostgreSQL backend that exits during the interval
 * still counts, through the postmaster. Shared services also serve other clients of the machine:
 * read it as an upper bound.
 */
export function commandCpuSeconds(comm: string): number {
  let total = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    if (name !== comm) continue;
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    total += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]); // utime stime cutime cstime
  }
  return total / CLK_TCK;
}

/** Like cpuMeter, for all processes of a command: `const m = commandCpuMeter('postgres'); …; m.seconds()`. */
export function commandCpuMeter(comm: string): { seconds(): number } {
  const start = commandCpuSeconds(comm);
  return { seconds: () => commandCpuSeconds(comm) - start };
}

/** Rounds a figure for the JSON: integers above 100, 3 significant decimals below. */
export function round(v: number): number {
  return Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 1000) / 1000;
}

/** CPU seconds the whole machine has been busy (all cores, /proc/stat: everything but idle and iowait). */
export function machineBusyCpuSeconds(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f;
  return (user + nice + system + irq + softirq + (steal ?? 0)) / CLK_TCK;
}

/**
 * Busy CPU of the whole machine over an interval: subtract the measured processes' CPU to see
 * how much other work (tests, other benches) competed with a measurement.
 */
export function machineCpuMeter(): { seconds(): number } {
  const start = machineBusyCpuSeconds();
  return { seconds: () => machineBusyCpuSeconds() - start };
}
