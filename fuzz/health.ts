// Watches the server while it is fuzzed: /health every second, /stats for actor restarts and uptime, the process itself.
//
// A crash is the process dying, or any actor restarting (the supervisor restarts a worker that
// died: /stats → restarts counts shards, front, cache and writer), or uptime going backwards
// (someone restarted the whole process under a --url run).
import { FuzzSetupError } from './errors.js';
import type { Death } from './server.js';

export interface HealthResult {
  polls: number;
  /** Polls answered with a status other than 200. */
  non200: number;
  /** Polls not answered within the timeout (the front busy, or gone). */
  unanswered: number;
  slowestMs: number;
  samples: string[];
  /** GET /health at the end. */
  final: { status: number | 'no answer'; body: string };
  restartsBefore: number;
  restartsAfter: number;
  uptimeWentBack: boolean;
  /** Why the process is gone, when it is. */
  died?: string;
  crashes: number;
  /** When the first crash was seen (Date.now()): the cases sent just before are the suspects. */
  crashSeenAt?: number;
  healthy: boolean;
}

export interface MonitorOptions {
  base: string;
  intervalMs?: number;
  timeoutMs?: number;
  /** The process's fate when the fuzzer started it. */
  died?: () => Death | undefined;
}

interface Stats {
  restarts: number;
  uptimeS: number;
}

const SAMPLES = 5;
/** Consecutive unanswered polls after which the server counts as gone and the run stops early. */
export const GONE_AFTER = 10;

async function getJson(url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, body: await res.text() };
}

export class HealthMonitor {
  private readonly r: HealthResult = {
    polls: 0, non200: 0, unanswered: 0, slowestMs: 0, samples: [], final: { status: 'no answer', body: '' },
    restartsBefore: 0, restartsAfter: 0, uptimeWentBack: false, crashes: 0, healthy: false,
  };
  private timer?: NodeJS.Timeout;
  private lastUptime = 0;
  private consecutiveUnanswered = 0;
  private maxConsecutive = 0;
  private polling?: Promise<void>;
  private readonly interval: number;
  private readonly timeout: number;

  constructor(private readonly o: MonitorOptions) {
    this.interval = o.intervalMs ?? 1000;
    this.timeout = o.timeoutMs ?? 5000;
  }

  /** The server is gone (exited, or unanswered for GONE_AFTER polls): stop fuzzing it. */
  get gone(): boolean {
    return this.o.died?.() !== undefined || this.consecutiveUnanswered >= GONE_AFTER;
  }

  async start(): Promise<void> {
    const s = await this.stats();
    if (!s) throw new FuzzSetupError(`GET ${this.o.base}/stats did not answer 200: is tickplant running there?`);
    this.r.restartsBefore = this.r.restartsAfter = s.restarts;
    this.lastUptime = s.uptimeS;
    this.timer = setInterval(() => {
      this.polling ??= this.poll().finally(() => (this.polling = undefined));
    }, this.interval);
  }

  private async stats(): Promise<Stats | undefined> {
    try {
      const { status, body } = await getJson(`${this.o.base}/stats`, this.timeout);
      if (status !== 200) return undefined;
      const s = JSON.parse(body) as Partial<Stats>;
      return { restarts: Number(s.restarts ?? 0), uptimeS: Number(s.uptimeS ?? 0) };
    } catch {
      return undefined;
    }
  }

  private note(line: string): void {
    if (this.r.samples.length < SAMPLES) this.r.samples.push(`${new Date().toISOString()} ${line}`);
  }

  private async poll(): Promise<void> {
    this.r.polls++;
    const t0 = performance.now();
    try {
      const { status, body } = await getJson(`${this.o.base}/health`, this.timeout);
      this.consecutiveUnanswered = 0;
      if (status !== 200) {
        this.r.non200++;
        this.note(`/health ${status}: ${body.slice(0, 300)}`);
      }
    } catch (e) {
      this.r.unanswered++;
      this.maxConsecutive = Math.max(this.maxConsecutive, ++this.consecutiveUnanswered);
      this.note(`/health unanswered: ${(e as Error).message}`);
    }
    this.r.slowestMs = Math.max(this.r.slowestMs, performance.now() - t0);
    if (this.r.polls % 2 === 0) await this.checkStats();
  }

  private async checkStats(): Promise<void> {
    const s = await this.stats();
    if (!s) return;
    if (s.restarts > this.r.restartsAfter) {
      this.note(`actor restarts ${this.r.restartsAfter} → ${s.restarts}`);
      this.r.crashSeenAt ??= Date.now();
    }
    if (s.uptimeS < this.lastUptime) {
      this.r.uptimeWentBack = true;
      this.r.crashSeenAt ??= Date.now();
      this.note(`uptime went back ${this.lastUptime} → ${s.uptimeS} s: the process restarted`);
    }
    this.r.restartsAfter = Math.max(this.r.restartsAfter, s.restarts);
    this.lastUptime = s.uptimeS;
  }

  /** Stops polling and makes the final checks. */
  async stop(): Promise<HealthResult> {
    clearInterval(this.timer);
    await this.polling;
    try {
      this.r.final = await getJson(`${this.o.base}/health`, this.timeout);
    } catch (e) {
      this.r.final = { status: 'no answer', body: (e as Error).message };
    }
    await this.checkStats();
    const r = this.r;
    const death = this.o.died?.();
    r.died = death?.reason;
    if (death) r.crashSeenAt = Math.min(r.crashSeenAt ?? Infinity, death.at);
    r.crashes = r.restartsAfter - r.restartsBefore + (r.died !== undefined ? 1 : 0) + (r.uptimeWentBack ? 1 : 0);
    // One slow poll on a saturated 2-core machine is not an outage; three in a row would be.
    r.healthy = r.final.status === 200 && r.non200 === 0 && r.died === undefined && this.maxConsecutive < 3;
    return r;
  }
}
