// Starts the real runtime in-process (real workers, real uWS) on a free port, for integration tests.
import { type Config, loadConfig } from '../../src/config.js';
import { Supervisor } from '../../src/actors/supervisor/supervisor.js';

export interface Runtime {
  sup: Supervisor;
  cfg: Config;
  http: string;
  ws: string;
  get<T = unknown>(path: string): Promise<{ status: number; body: T }>;
  stop(): Promise<void>;
}

export async function startRuntime(overrides: Parameters<typeof loadConfig>[1] = {}): Promise<Runtime> {
  const cfg = loadConfig({}, { port: 0, host: '127.0.0.1', logLevel: 'warn', simSeed: 42, ...overrides });
  const sup = new Supervisor(cfg);
  await sup.start();
  const http = `http://127.0.0.1:${sup.port}`;
  return {
    sup,
    cfg,
    http,
    ws: `ws://127.0.0.1:${sup.port}/ws`,
    async get<T>(path: string) {
      const r = await fetch(http + path);
      return { status: r.status, body: (await r.json()) as T };
    },
    stop: () => sup.stop(),
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
