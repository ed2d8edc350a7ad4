// One fan-out measurement of one system (tickplant or a baseline): start it, connect the generator, count, stop.
//
// Used by the fanout, latency and snapshot scenarios. Every system is fed the same simulator
// settings (symbols, per-symbol rate, seed, depth); the generator opens `conns` connections,
// connection i subscribing to symbol i % symbols.length, and counts from a reset after warm-up.

import { readFileSync } from 'node:fs';
import type hdr from 'hdr-histogram-js';
import { startLoadgen, type LoadgenStats, sleep } from './loadgen.js';
import { startBaseline, startTickplant, type ServerProcess } from './process.js';
import { cpuMeter } from './report.js';

export interface SystemSpec {
  system: string;
  /** A file in bench/baselines/, or null for tickplant itself. */
  file: string | null;
  mode: 'ws' | 'sio';
}

export const TICKPLANT: SystemSpec = { system: 'tickplant', file: null, mode: 'ws' };
export const BASELINES: SystemSpec[] = [
  { system: 'bare uWS', file: 'bare-uws.ts', mode: 'ws' },
  { system: 'ws stringify per client', file: 'ws-stringify.ts', mode: 'ws' },
  { system: 'ws serialize once', file: 'ws-once.ts', mode: 'ws' },
  { system: 'socket.io', file: 'socketio.ts', mode: 'sio' },
];

export interface LoadSpec {
  conns: number;
  symbols: string[];
  /** Updates per second per symbol. */
  rate: number;
  depth: number;
  /** The simulator's tick (SIM_TICK_MS), the same for tickplant and the baselines; default 10 ms. */
  tickMs?: number;
  warmupMs: number;
  measureMs: number;
  /** taskset cores for the server and the generator; undefined = not pinned. */
  serverCpus?: string;
  generatorCpus?: string;
  /** More environment for tickplant (e.g. PERSIST, SHARDS). */
  tickplantEnv?: Record<string, string>;
  /** tickplant's subscribe resolution; 'none' skips history. */
  resolution?: string;
  /** Called after the warm-up reset, while the load runs (snapshot: a new subscriber). */
  during?: (server: ServerProcess) => Promise<void>;
}

export interface Measurement {
  system: string;
  open: number;
  seconds: number;
  stats: LoadgenStats;
  serverCpuSeconds: number;
  generatorCpuSeconds: number;
  latency: hdr.Histogram;
  latencyCo: hdr.Histogram;
  /** Deliveries per second, one point per second of the measurement. */
  perSecond: { x: number; y: number }[];
  /** Resident memory of the server (kB) at the start and end of the measurement. */
  rssKbStart: number;
  rssKbEnd: number;
}

export function rssKb(pid: number): number {
  const status = readStatus(pid);
  const m = /VmRSS:\s+(\d+)/.exec(status);
  return m ? Number(m[1]) : 0;
}

const readStatus = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return '';
  }
};

export async function startSystem(spec: SystemSpec, load: LoadSpec): Promise<ServerProcess> {
  const feedEnv = {
    SYMBOLS: load.symbols.join(','),
    SIM_UPDATES_PER_SECOND: String(load.rate),
    SIM_SEED: '1',
    BOOK_DEPTH: String(load.depth),
    SIM_TICK_MS: String(load.tickMs ?? 10),
  };
  if (spec.file === null) {
    return startTickplant({ ...feedEnv, SHARDS: '1', PERSIST: 'false', LOG_LEVEL: 'info', ...load.tickplantEnv }, load.serverCpus);
  }
  return startBaseline(spec.file, [], { ...feedEnv, PORT: '0' }, load.serverCpus);
}

/** Runs one system under the load and returns what the generator and /proc saw. */
export async function measure(spec: SystemSpec, load: LoadSpec): Promise<Measurement> {
  const server = await startSystem(spec, load);
  try {
    return await measureRunning(spec, load, server);
  } finally {
    await server.stop();
  }
}

export async function measureRunning(spec: SystemSpec, load: LoadSpec, server: ServerProcess): Promise<Measurement> {
  const gen = await startLoadgen({
    port: server.port,
    conns: load.conns,
    symbols: load.symbols,
    mode: spec.mode,
    resolution: spec.file === null ? load.resolution ?? 'none' : undefined,
    intervalUs: 1e6 / load.rate,
    cpus: load.generatorCpus,
  });
  try {
    await sleep(load.warmupMs);
    await gen.reset();
    const serverCpu = cpuMeter(server.pid);
    const genCpu = gen.cpu();
    const rssKbStart = rssKb(server.pid);
    const t0 = performance.now();
    const perSecond: { x: number; y: number }[] = [];
    const during = load.during?.(server);
    let last = 0;
    for (let s = 1; s * 1000 <= load.measureMs; s++) {
      await sleep(t0 + s * 1000 - performance.now());
      const st = await gen.stats();
      perSecond.push({ x: s, y: st.deliveries - last });
      last = st.deliveries;
    }
    await during;
    const seconds = (performance.now() - t0) / 1000;
    const serverCpuSeconds = serverCpu.seconds();
    const generatorCpuSeconds = genCpu.seconds();
    const rssKbEnd = rssKb(server.pid);
    const r = await gen.report();
    const { latency, latencyCo, ...stats } = r;
    return { system: spec.system, open: gen.open, seconds, stats, serverCpuSeconds, generatorCpuSeconds, latency, latencyCo, perSecond, rssKbStart, rssKbEnd };
  } finally {
    await gen.stop();
  }
}
