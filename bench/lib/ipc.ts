// Programs a scenario questions while they run (a load generator, a measured consumer): Node's IPC channel, one answer per question.
//
// The scenario reads a process's CPU from /proc at the moment it gets the process's own counts,
// so figures and CPU cover the same interval; printing counts on a timer would not line up.
//
//   parent:  const g = await spawnIpc('generator', ['--import', 'tsx', 'bench/lib/x.ts'], '1'); await g.ask('stats')
//   child:   serveIpc({ stats: () => ({ … }) }); readyIpc({ port })

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// Not process.ts's ROOT: that module loads pg, and the measured children import this one (their RSS is a figure).
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const READY_TIMEOUT_MS = 60_000;
const ASK_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

export interface IpcProcess {
  name: string;
  pid: number;
  /** What the child said when it was ready. */
  ready: Record<string, unknown>;
  ask<T = Record<string, unknown>>(cmd: string, args?: Record<string, unknown>): Promise<T>;
  /** Everything it printed (last 64 KiB). */
  output(): string;
  /** SIGTERM (SIGKILL after a grace); resolves with the exit code. */
  stop(): Promise<number | null>;
}

interface Reply {
  id?: number;
  ready?: Record<string, unknown>;
  result?: unknown;
  error?: string;
}

/** Starts `node <args>` (pinned with taskset to `cpus` if given) and waits for its readyIpc(). */
export async function spawnIpc(name: string, args: string[], cpus?: string, env: Record<string, string> = {}): Promise<IpcProcess> {
  const base = [process.execPath, ...args];
  const [cmd, ...rest] = cpus ? ['taskset', '-c', cpus, ...base] : base;
  const child: ChildProcess = spawn(cmd, rest, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  let out = '';
  const keep = (b: Buffer) => (out = (out + b.toString()).slice(-65536));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void; timer: NodeJS.Timeout }>();
  let nextId = 1;
  let resolveReady!: (r: Record<string, unknown>) => void;
  const ready = new Promise<Record<string, unknown>>((r) => (resolveReady = r));
  child.on('message', (m: Reply) => {
    if (m.ready) return resolveReady(m.ready);
    const p = m.id === undefined ? undefined : pending.get(m.id);
    if (!p) return;
    pending.delete(m.id!);
    clearTimeout(p.timer);
    if (m.error !== undefined) p.reject(new Error(`${name}: ${m.error}`));
    else p.resolve(m.result);
  });
  const exited = once(child, 'exit').then(([code]) => {
    for (const p of pending.values()) p.reject(new Error(`${name} exited (code ${code}):\n${out.slice(-4000)}`));
    pending.clear();
    return code as number | null;
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const info = await Promise.race([
      ready,
      exited.then((code) => Promise.reject(new Error(`${name} exited (code ${code}) before it was ready:\n${out.slice(-4000)}`))),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${name} not ready after ${READY_TIMEOUT_MS} ms:\n${out.slice(-4000)}`)), READY_TIMEOUT_MS))),
    ]);
    return {
      name,
      pid: child.pid!,
      ready: info,
      output: () => out,
      ask<T>(cmdName: string, a: Record<string, unknown> = {}): Promise<T> {
        if (child.exitCode !== null || !child.connected) return Promise.reject(new Error(`${name} is not running:\n${out.slice(-4000)}`));
        const id = nextId++;
        return new Promise<T>((resolve, reject) => {
          const t = setTimeout(() => {
            pending.delete(id);
            reject(new Error(`${name}: no answer to ${cmdName} after ${ASK_TIMEOUT_MS} ms`));
          }, ASK_TIMEOUT_MS);
          pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer: t });
          child.send({ id, cmd: cmdName, args: a });
        });
      },
      async stop() {
        if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        const code = await exited;
        clearTimeout(t);
        return code;
      },
    };
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

type Handler = (args: Record<string, unknown>) => unknown;

/** Child side: answers the parent's questions with `handlers`; exits when the parent goes away. */
export function serveIpc(handlers: Record<string, Handler>): void {
  if (!process.send) throw new Error('serveIpc: not started with an IPC channel (bench/lib/ipc.ts spawnIpc)');
  process.on('message', (m: { id: number; cmd: string; args: Record<string, unknown> }) => {
    const h = handlers[m.cmd];
    if (!h) return process.send!({ id: m.id, error: `unknown command ${m.cmd}` });
    Promise.resolve()
      .then(() => h(m.args ?? {}))
      .then((result) => process.send!({ id: m.id, result }), (e: Error) => process.send!({ id: m.id, error: e.message }));
  });
  // An orphan would keep a core busy for nobody.
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}

export function readyIpc(info: Record<string, unknown>): void {
  process.send!({ ready: info });
}

/** Resident memory of a process in MB, from /proc (VmRSS), and its peak (VmHWM). */
export function rssMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}
