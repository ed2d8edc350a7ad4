// The C load generator from the scenarios' side: build it, start it pinned to a core, command it, read its figures.
//
// bench/loadgen/loadgen.c holds the protocol (its header says what it counts). Here: gcc into
// bench/.build/ (ignored), a child process per connection set, and its histograms turned into
// hdr-histogram-js histograms so every latency figure goes through report.ts the same way.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, statSync } from 'node:fs';
import { createInterface, type Interface } from 'node:readline';
import type hdr from 'hdr-histogram-js';
import { ROOT } from './process.js';
import { cpuMeter, latencyHistogram } from './report.js';

const READY_TIMEOUT_MS = 120_000;
const COMMAND_TIMEOUT_MS = 30_000;

/**
 * Compiles bench/loadgen/<name>.c (and the header it shares) into bench/.build/<name> when the
 * binary is missing or older than a source; returns the binary's path.
 */
export function buildGenerator(name: 'loadgen' | 'httpload'): string {
  const binary = `${ROOT}bench/.build/${name}`;
  const sources = [`${ROOT}bench/loadgen/${name}.c`, `${ROOT}bench/loadgen/histogram.h`];
  const stale = (() => {
    try {
      const built = statSync(binary).mtimeMs;
      return sources.some((f) => built < statSync(f).mtimeMs);
    } catch {
      return true;
    }
  })();
  if (stale) {
    mkdirSync(`${ROOT}bench/.build`, { recursive: true });
    execFileSync('gcc', ['-O2', '-Wall', '-o', binary, sources[0]], { stdio: 'inherit' });
  }
  return binary;
}

export interface LoadgenOptions {
  port: number;
  conns: number;
  symbols: string[];
  /** `sio`: engine.io v4 over WebSocket (the socket.io baseline). */
  mode?: 'ws' | 'sio';
  /** tickplant's subscribe `resolution` (e.g. 'none' to skip history); baselines ignore it. */
  resolution?: string;
  /** Expected interval between updates of one symbol, for coordinated-omission correction. */
  intervalUs?: number;
  /** taskset core list, e.g. '1'. */
  cpus?: string;
}

/** Counters since the last reset (see loadgen.c). */
export interface LoadgenStats {
  open: number;
  deliveries: number;
  bytes: number;
  frames: number;
  resyncs: number;
  gaps: number;
  dups: number;
  snapshots: number;
  historical: number;
  errors: number;
  other: number;
  closed: number;
  pings: number;
}

export interface LoadgenReport extends LoadgenStats {
  /** Feed→client latency, µs, as measured. */
  latency: hdr.Histogram;
  /** The same with coordinated-omission correction (HdrHistogram's expected-interval rule). */
  latencyCo: hdr.Histogram;
}

export interface Loadgen {
  pid: number;
  /** The connections that completed the upgrade and subscribed. */
  open: number;
  reset(): Promise<void>;
  stats(): Promise<LoadgenStats>;
  report(): Promise<LoadgenReport>;
  /** CPU seconds the generator used since this call. */
  cpu(): { seconds(): number };
  stop(): Promise<void>;
}

const toHistogram = (buckets: [number, number][]): hdr.Histogram => {
  const h = latencyHistogram();
  for (const [v, n] of buckets) h.recordValueWithCount(Math.max(1, v), n);
  return h;
};

export async function startLoadgen(o: LoadgenOptions): Promise<Loadgen> {
  const bin = buildGenerator('loadgen');
  const args = ['--port', String(o.port), '--conns', String(o.conns), '--symbols', o.symbols.join(','), '--mode', o.mode ?? 'ws'];
  if (o.resolution) args.push('--resolution', o.resolution);
  if (o.intervalUs) args.push('--interval-us', String(Math.round(o.intervalUs)));
  const [cmd, argv] = o.cpus ? ['taskset', ['-c', o.cpus, bin, ...args]] : [bin, args];
  const child: ChildProcess = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
  const lines: Interface = createInterface({ input: child.stdout! });
  const waiting: ((line: string) => void)[] = [];
  const queued: string[] = [];
  lines.on('line', (l) => {
    const w = waiting.shift();
    if (w) w(l);
    else queued.push(l);
  });
  const nextLine = (what: string, timeoutMs: number) =>
    new Promise<string>((resolve, reject) => {
      const q = queued.shift();
      if (q !== undefined) return resolve(q);
      const t = setTimeout(() => reject(new Error(`loadgen: no answer to ${what} after ${timeoutMs} ms\n${stderr}`)), timeoutMs);
      waiting.push((l) => {
        clearTimeout(t);
        resolve(l);
      });
    });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`loadgen exited (${code}):\n${stderr}`);
  });
  exited.catch(() => {});
  const ready = await Promise.race([nextLine('start', READY_TIMEOUT_MS), exited]);
  const m = /^ready (\d+)$/.exec(ready);
  if (!m) throw new Error(`loadgen: ${ready}\n${stderr}`);
  const command = async (c: string): Promise<string> => {
    child.stdin!.write(`${c}\n`);
    return Promise.race([nextLine(c, COMMAND_TIMEOUT_MS), exited]);
  };
  return {
    pid: child.pid!,
    open: Number(m[1]),
    async reset() {
      await command('reset');
    },
    async stats() {
      return JSON.parse(await command('stats')) as LoadgenStats;
    },
    async report() {
      const r = JSON.parse(await command('report')) as LoadgenStats & { latencyUs: [number, number][]; latencyCoUs: [number, number][] };
      const { latencyUs, latencyCoUs, ...counters } = r;
      return { ...counters, latency: toHistogram(latencyUs), latencyCo: toHistogram(latencyCoUs) };
    },
    cpu: () => cpuMeter(child.pid!),
    async stop() {
      if (child.exitCode !== null) return;
      child.stdin!.end('quit\n');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await once(child, 'exit');
      clearTimeout(t);
    },
  };
}

/** Symbol names for a scenario: `BENCH000`, `BENCH001`, … (the simulator derives a start price from the name). */
export const benchSymbols = (n: number): string[] => Array.from({ length: n }, (_, i) => `BENCH${String(i).padStart(3, '0')}`);

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
