// The real tickplant process for tests: spawned from source (or as `npm start`), its output collected, its exit awaited.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';

/** A port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface MainProcess {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  readonly output: string;
  /** Resolves with the exit code (null: killed by a signal). */
  exited: Promise<number | null>;
  /** Resolves with the first match of `re` in the output; rejects after `ms` or at exit. */
  waitFor(re: RegExp, ms?: number): Promise<RegExpExecArray>;
  /** The HTTP port from the "listening" line. */
  port(ms?: number): Promise<number>;
}

/**
 * Starts `node --import tsx src/main.ts` (or `npm start` with `npmStart`) with `env` on top of
 * this process's environment minus DATABASE_URL and REDIS_URL (so each test says what it uses).
 * `detached` puts it in a process group of its own, as a terminal would.
 */
export interface StartOptions {
  npmStart?: boolean;
  /** Another command line (e.g. the production build); default: the sources through tsx. */
  command?: [string, string[]];
  cwd?: string;
  detached?: boolean;
  uid?: number;
  gid?: number;
}

export function startMain(env: NodeJS.ProcessEnv, o: StartOptions = {}): MainProcess {
  const base: NodeJS.ProcessEnv = { ...process.env, HOST: '127.0.0.1' };
  delete base.DATABASE_URL;
  delete base.REDIS_URL;
  const [cmd, args] = o.command ?? (o.npmStart ? ['npm', ['start']] : [process.execPath, ['--import', 'tsx', 'src/main.ts']]);
  const child = spawn(cmd, args, {
    env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: o.detached, cwd: o.cwd, uid: o.uid, gid: o.gid,
  });
  let output = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    output += d.toString();
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => {
    done = true;
    for (const l of listeners) l();
  });
  const waitFor = (re: RegExp, ms = 30_000) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const m = re.exec(output);
        if (m || done) {
          clearTimeout(t);
          listeners.delete(check);
          if (m) resolve(m);
          else reject(new Error(`exited before ${re} appeared; output:\n${output}`));
        }
      };
      const t = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`${re} did not appear within ${ms} ms; output:\n${output}`));
      }, ms);
      listeners.add(check);
      check();
    });
  return {
    child,
    get output() {
      return output;
    },
    exited,
    waitFor,
    port: async (ms) => Number((await waitFor(/listening on http:\/\/[^:]+:(\d+)/, ms))[1]),
  };
}

/**
 * The local ports of `pid`'s TCP connections to `remotePort` (Linux: /proc), so a test can cut
 * exactly its own child's connections to a shared PostgreSQL or Redis (CLIENT KILL ADDR,
 * pg_stat_activity.client_port) without touching other test files' servers.
 */
export function tcpConnectionsTo(pid: number, remotePort: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // Closed between readdir and readlink: not a connection any more.
    }
  }
  const ports: number[] = [];
  for (const table of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue; // no IPv6 on this machine
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // f[1] local, f[2] remote address (hex addr:port), f[3] state (01 ESTABLISHED), f[9] inode.
      if (f.length < 10 || f[3] !== '01' || !inodes.has(f[9])) continue;
      if (parseInt(f[2].split(':')[1], 16) === remotePort) ports.push(parseInt(f[1].split(':')[1], 16));
    }
  }
  return ports;
}
