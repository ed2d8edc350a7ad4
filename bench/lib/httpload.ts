// The C HTTP load generator from the scenarios' side: build it, run it for a while, read its one JSON line.
//
// bench/loadgen/httpload.c holds the loop (its header says what it counts): closed-loop
// requests (GETs, or POSTs of a file's bytes), one TCP connection per request. Here: gcc into bench/.build/ (ignored) and a child process
// per run, like loadgen.ts does for the WebSocket generator.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { buildGenerator } from './loadgen.js';

/** Beyond its --seconds, how long the generator may take to exit before the run counts as failed. */
const EXIT_GRACE_MS = 15_000;

export interface HttploadOptions {
  port: number;
  /** One path, or several taken in turn, request after request. */
  path: string | string[];
  /** GET unless given. */
  method?: string;
  /** Each request sends this file's bytes as its body (with Content-Length). */
  bodyFile?: string;
  /** The body's Content-Type; application/octet-stream unless given. */
  contentType?: string;
  /** More request header lines, `Name: value` each (e.g. a credential: `x-api-key: …`). */
  headers?: string[];
  /** Concurrent requests, each on its own connection. */
  conns: number;
  seconds: number;
  host?: string;
  /** taskset core list, e.g. '1'. */
  cpus?: string;
}

/** What httpload.c prints at the end (latencies in µs). */
export interface HttploadResult {
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  /** Answers by HTTP status, e.g. { "200": 80000 }. */
  status: Record<string, number>;
  /** Answers with a 2xx status, and with any other. */
  status2xx: number;
  statusOther: number;
  errors: number;
  errorKinds: Record<'connect' | 'reset' | 'noStatus' | 'timeout' | 'socket', number>;
  /** Bytes received, and sent (request heads and bodies). */
  bytes: number;
  bytesSent: number;
  latencyUs: { p50: number; p99: number; p999: number; max: number };
  /** The generator's own CPU (user + system). */
  cpuSeconds: number;
}

/** Runs the generator for `seconds` and resolves with its figures; rejects when it fails. */
export async function runHttpload(o: HttploadOptions): Promise<HttploadResult> {
  const bin = buildGenerator('httpload');
  const args = [
    '--port', String(o.port), ...[o.path].flat().flatMap((p) => ['--path', p]), '--conns', String(o.conns), '--seconds', String(o.seconds), '--host', o.host ?? '127.0.0.1',
    ...(o.method ? ['--method', o.method] : []), ...(o.bodyFile ? ['--body-file', o.bodyFile] : []), ...(o.contentType ? ['--content-type', o.contentType] : []),
    ...(o.headers ?? []).flatMap((h) => ['--header', h]),
  ];
  const [cmd, argv] = o.cpus ? ['taskset', ['-c', o.cpus, bin, ...args]] : [bin, args];
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-4000)));
  const kill = setTimeout(() => child.kill('SIGKILL'), o.seconds * 1000 + EXIT_GRACE_MS);
  const [code] = await once(child, 'exit');
  clearTimeout(kill);
  const line = out.trim().split('\n').pop() ?? '';
  if (code !== 0 || !line.startsWith('{')) throw new Error(`httpload failed (exit ${code}):\n${out.slice(-2000)}${err}`);
  return JSON.parse(line) as HttploadResult;
}
