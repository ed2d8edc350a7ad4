// Runs the WebSocket plans: many raw connections at once, each paced well below the server's per-connection message rate.
//
// Pacing is what makes the cases count: a connection flooding the server is closed (4429) after
// its first hundred messages, and the rest never reach the parser. So each connection sends at
// `ratePerS` with a burst of at most that many, and throughput comes from concurrency.
import { setTimeout as sleep } from 'node:timers/promises';
import { RawWs, newTally, type WsTally } from './raw-ws.js';
import type { Recent } from './recent.js';
import { caseRng } from './rng.js';
import { describeStep, planConnection, type WsContext, type WsPlan } from './ws-cases.js';

export interface WsFuzzResult {
  /** Client messages sent (a fragmented message counts once, a burst counts each of its messages). */
  messages: number;
  /** Connections attempted, and those the server upgraded. */
  connections: number;
  upgraded: number;
  /** Messages sent per case label. */
  labels: Record<string, number>;
  /** Connections refused at upgrade with 429, or closed with 4429: the server's flood limits, not failures. */
  rateLimited: { upgrade429: number; close4429: number };
  tally: WsTally;
}

export interface WsFuzzOptions {
  host: string;
  port: number;
  seed: number;
  messages: number;
  concurrency: number;
  ratePerS: number;
  ctx(): WsContext;
  stopped(): boolean;
  /** Filled as the run goes (progress lines read it). */
  result: WsFuzzResult;
  /** Every step sent is noted here: the suspects of a crash. */
  recent: Recent;
  /** Run only these plans, one after the other (reproducing a case), instead of `messages` worth. */
  only?: number[];
}

export function newWsFuzzResult(): WsFuzzResult {
  return { messages: 0, connections: 0, upgraded: 0, labels: {}, rateLimited: { upgrade429: 0, close4429: 0 }, tally: newTally() };
}

/** Token bucket: `rate` per second, at most `rate` at once. */
class Pacer {
  private tokens: number;
  private last = performance.now();
  constructor(private readonly rate: number) {
    this.tokens = rate;
  }

  async take(n: number): Promise<void> {
    for (;;) {
      const now = performance.now();
      this.tokens = Math.min(this.rate, this.tokens + ((now - this.last) / 1000) * this.rate);
      this.last = now;
      if (this.tokens >= n) {
        this.tokens -= n;
        return;
      }
      await sleep(Math.max(5, ((n - this.tokens) / this.rate) * 1000));
    }
  }
}

export async function fuzzWebSocket(o: WsFuzzOptions): Promise<WsFuzzResult> {
  const r = o.result;
  let reserved = 0;
  let nextPlan = 0;

  const run = async (plan: WsPlan, i: number): Promise<number> => {
    const rng = caseRng(o.seed, 'ws-frames', i);
    r.connections++;
    o.recent.add(() => `ws#${i} ${plan.label} ${JSON.stringify(plan.upgrade.raw?.toString('latin1').slice(0, 300) ?? plan.upgrade).slice(0, 400)}`);
    const c = await RawWs.connect(o.host, o.port, plan.upgrade, r.tally, rng);
    if (!c.ok) {
      const key = String(c.status);
      r.tally.upgradeRefusals[key] = (r.tally.upgradeRefusals[key] ?? 0) + 1;
      if (c.status === 429) {
        r.rateLimited.upgrade429++;
        await sleep(250);
      } else if (typeof c.status === 'number' && c.status >= 500 && r.tally.upgrade5xx.length < 5) {
        r.tally.upgrade5xx.push({ request: `${plan.label}: ${JSON.stringify(plan.upgrade.raw?.toString('latin1') ?? plan.upgrade)}`.slice(0, 1500), status: c.status, body: c.body });
      } else if (c.status === 'error') {
        await sleep(50); // refused or reset outright: do not spin
      }
      return 0;
    }
    r.upgraded++;
    const ws = c.ws;
    const pacer = new Pacer(o.ratePerS);
    let sent = 0;
    // A connection the server stops reading from must not hold a sender forever.
    const watchdog = setTimeout(() => ws.destroy(), 30_000 + (plan.steps.length / o.ratePerS) * 2000);
    try {
      for (const [k, step] of plan.steps.entries()) {
        if (!ws.isOpen || o.stopped()) break;
        await pacer.take(step.messages);
        if (!ws.isOpen) break;
        o.recent.add(() => `ws#${i} step ${k + 1}/${plan.steps.length}: ${describeStep(step)}`);
        if (step.bytes) await ws.write(step.bytes);
        for (const f of step.frames ?? []) await ws.send(f);
        sent += step.messages;
        r.labels[step.label] = (r.labels[step.label] ?? 0) + step.messages;
        if (step.terminal) {
          await Promise.race([ws.done, sleep(1000)]);
          break;
        }
      }
      if (plan.ending === 'close') await ws.close();
      else ws.destroy();
    } finally {
      clearTimeout(watchdog);
      ws.destroy();
    }
    if (ws.closeCode === 4429) r.rateLimited.close4429++;
    return sent;
  };

  const worker = async () => {
    // The refusal bound ends a run against a server that upgrades nothing (wrong URL, every path refused).
    while (reserved < o.messages && !o.stopped() && r.connections - r.upgraded < Math.max(1000, o.messages)) {
      const i = nextPlan++;
      const plan = planConnection(caseRng(o.seed, 'ws', i), o.ctx(), o.messages - reserved);
      const planned = plan.steps.reduce((n, s) => n + s.messages, 0);
      reserved += planned;
      const sent = await run(plan, i);
      r.messages += sent;
      reserved -= planned - sent; // what the server cut short is sent on later connections
    }
  };
  if (o.only) {
    for (const i of o.only) r.messages += await run(planConnection(caseRng(o.seed, 'ws', i), o.ctx(), Infinity), i);
    return r;
  }
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  return r;
}
