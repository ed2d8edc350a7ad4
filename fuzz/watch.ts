// The behaving clients: ordinary subscribers that run beside the fuzzing and check they missed nothing.
//
// Each subscribes to a few symbols with "resolution":"none" and checks the README's guarantee:
// within an epoch every orderbook_update has seq = previous + 1, where an orderbook_snapshot or
// a resync (any reason) restarts the count. A connection lost mid-run reconnects and resumes
// from the last update it saw, so a resume that skipped updates counts as a gap too.
import WebSocket from 'ws';

export interface WatchResult {
  clients: number;
  subscriptions: number;
  updates: number;
  snapshots: number;
  resyncs: Record<string, number>;
  gaps: number;
  gapSamples: string[];
  /** Error frames a behaving client got (it sends nothing wrong, so each is worth a look). */
  errors: Record<string, number>;
  disconnects: number;
  /** Subscriptions that had no message for STALL_MS at the end of the run. */
  stalled: string[];
}

interface Sub {
  symbol: string;
  epoch?: number;
  seq?: number;
  lastAt: number;
}

const STALL_MS = 10_000;
const SAMPLES = 10;

class Watcher {
  private ws?: WebSocket;
  private stopping = false;
  readonly subs: Sub[];

  constructor(private readonly url: string, symbols: string[], private readonly r: WatchResult) {
    this.subs = symbols.map((symbol) => ({ symbol, lastAt: Date.now() }));
  }

  /** Resolves when every subscription has its starting point (a snapshot), or after `ms`. */
  start(ms: number): Promise<void> {
    this.connect();
    const until = Date.now() + ms;
    return new Promise((resolve) => {
      const check = () => (this.subs.every((s) => s.seq !== undefined) || Date.now() > until ? resolve() : setTimeout(check, 50));
      check();
    });
  }

  private connect(): void {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.on('open', () => {
      for (const s of this.subs) {
        const m: Record<string, unknown> = { action: 'subscribe', symbol: s.symbol, resolution: 'none' };
        if (s.seq !== undefined && s.epoch !== undefined) m.resume = { seq: s.seq, epoch: s.epoch };
        ws.send(JSON.stringify(m));
      }
    });
    ws.on('message', (data) => this.onMessage(String(data)));
    ws.on('error', () => undefined); // 'close' follows and reconnects
    ws.on('close', () => {
      if (this.stopping) return;
      this.r.disconnects++;
      setTimeout(() => this.stopping || this.connect(), 200);
    });
  }

  private onMessage(text: string): void {
    const m = JSON.parse(text) as { type: string; symbol?: string; epoch?: number; seq?: number; reason?: string; code?: string; message?: string };
    if (m.type === 'error') {
      this.r.errors[m.code ?? '?'] = (this.r.errors[m.code ?? '?'] ?? 0) + 1;
      return;
    }
    const s = this.subs.find((x) => x.symbol === m.symbol);
    if (!s || typeof m.seq !== 'number') return;
    s.lastAt = Date.now();
    switch (m.type) {
      case 'historical_data':
        if (m.seq === 0) return; // no history yet: covers nothing
        [s.epoch, s.seq] = [m.epoch, m.seq];
        return;
      case 'orderbook_snapshot':
        this.r.snapshots++;
        [s.epoch, s.seq] = [m.epoch, m.seq];
        return;
      case 'resync':
        this.r.resyncs[m.reason ?? '?'] = (this.r.resyncs[m.reason ?? '?'] ?? 0) + 1;
        [s.epoch, s.seq] = [m.epoch, m.seq];
        return;
      case 'orderbook_update':
        this.r.updates++;
        if (s.seq !== undefined && (m.epoch !== s.epoch || m.seq !== s.seq + 1)) {
          this.r.gaps++;
          if (this.r.gapSamples.length < SAMPLES) this.r.gapSamples.push(`${s.symbol}: after ${s.epoch}/${s.seq} got update ${m.epoch}/${m.seq}`);
        }
        [s.epoch, s.seq] = [m.epoch, m.seq];
    }
  }

  stop(): void {
    this.stopping = true;
    this.ws?.close();
  }
}

export class Watchers {
  private readonly watchers: Watcher[] = [];
  readonly result: WatchResult = {
    clients: 0, subscriptions: 0, updates: 0, snapshots: 0, resyncs: {}, gaps: 0, gapSamples: [], errors: {}, disconnects: 0, stalled: [],
  };

  /** `clients` connections to `wsUrl`, client i following `perClient` symbols starting at the i-th. */
  constructor(wsUrl: string, symbols: readonly string[], clients: number, perClient: number) {
    for (let i = 0; i < clients && symbols.length > 0; i++) {
      const mine = Array.from({ length: Math.min(perClient, symbols.length) }, (_, k) => symbols[(i * perClient + k) % symbols.length]);
      this.watchers.push(new Watcher(wsUrl, mine, this.result));
      this.result.subscriptions += mine.length;
    }
    this.result.clients = this.watchers.length;
  }

  start(): Promise<void> {
    return Promise.all(this.watchers.map((w) => w.start(15_000))).then(() => undefined);
  }

  stop(): WatchResult {
    const now = Date.now();
    for (const w of this.watchers) {
      for (const s of w.subs) if (now - s.lastAt > STALL_MS) this.result.stalled.push(`${s.symbol}: nothing for ${Math.round((now - s.lastAt) / 1000)} s`);
      w.stop();
    }
    return this.result;
  }
}
