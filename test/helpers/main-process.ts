// The real tickplant process for tests: spawned from source (or as `npm start`), its output collected, its exit awaited.
import { type ChildProcess, spawn } from 'node:child_process';
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
