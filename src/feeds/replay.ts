// Replays recorded order books from an NDJSON file, at recorded pace, faster, or as fast as accepted.
//
// One line:
//   {"symbol":"US.AAPL","ts":1717171717000,"type":"snapshot","bids":[[190.01,300],...],"asks":[[190.02,200],...]}
// `ts` is ms since epoch or an ISO string; `timestamp`, `bid_levels` and `ask_levels` (the
// names the published messages use) are accepted for `ts`, `bids` and `asks`, and a level may be
// {"price","size"} or {"price","volume"}.
// `type` defaults to "snapshot". A bad line is reported through sink.malformed("line N: …")
// and skipped; replay never throws on input and never drops an accepted line: when the sink
// is full it waits and offers the same update again, which pauses reading (backpressure).
// Semantic checks (positive prices, ordering, crossing) are the shard's: see book/validate.ts.

import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { createBookUpdate, KIND_DELTA, KIND_SNAPSHOT, type BookUpdate, type Feed, type FeedSink } from './types.js';

export interface ReplayOptions {
  /** NDJSON file to read. */
  path: string;
  /** 1 = recorded pace, 10 = ten times faster, 0 = as fast as the sink accepts. */
  speed: number;
  /** Levels per side an update may carry: longer snapshots are truncated to their best levels, longer deltas rejected. */
  maxLevels: number;
  /** Start again from the top at end of file; default false. */
  loop?: boolean;
}

/** How long to wait before offering a refused update again. */
const RETRY_MS = 2;

export class ReplayError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'ReplayError';
    this.code = code;
  }
}

const Level = z.union([
  z.tuple([z.number(), z.number()]),
  z.object({ price: z.number(), size: z.number() }),
  z.object({ price: z.number(), volume: z.number() }),
]);
const Time = z.union([z.number(), z.string()]);
const Line = z.object({
  symbol: z.string().min(1).max(64),
  ts: Time.optional(),
  timestamp: Time.optional(),
  type: z.enum(['snapshot', 'delta']).default('snapshot'),
  bids: z.array(Level).optional(),
  asks: z.array(Level).optional(),
  bid_levels: z.array(Level).optional(),
  ask_levels: z.array(Level).optional(),
});
type Level = z.infer<typeof Level>;

export class ReplayFeed implements Feed {
  readonly name = 'replay';
  /** Resolves when the file is exhausted (never, with `loop`, until stop), or after stop. Rejects with a ReplayError if the file cannot be read. */
  readonly done: Promise<void>;
  private readonly options: Required<ReplayOptions>;
  private readonly update: BookUpdate;
  private resolveDone!: () => void;
  private rejectDone!: (err: Error) => void;
  private running: Promise<void> | null = null;
  private stopped = false;
  private readonly abort = new AbortController(); // cuts a pacing wait short on stop
  private linesRead = 0;
  private acceptedCount = 0;
  private malformedLines = 0;
  private truncatedCount = 0;
  private retryCount = 0;

  constructor(options: ReplayOptions) {
    const { path, speed, maxLevels, loop = false } = options;
    if (typeof path !== 'string' || path === '') throw new RangeError('path must name an NDJSON file');
    if (!Number.isFinite(speed) || speed < 0) throw new RangeError(`speed must be a finite number >= 0, got ${speed}`);
    if (!Number.isInteger(maxLevels) || maxLevels < 1) throw new RangeError(`maxLevels must be an integer >= 1, got ${maxLevels}`);
    this.options = { path, speed, maxLevels, loop };
    this.update = createBookUpdate(maxLevels);
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
  }

  /**
   * lines: non-empty lines read, over all passes; accepted: updates the sink took; malformed:
   * lines reported as malformed; truncated: snapshots cut down to maxLevels (still delivered).
   */
  stats(): { lines: number; accepted: number; malformed: number; truncated: number } {
    return { lines: this.linesRead, accepted: this.acceptedCount, malformed: this.malformedLines, truncated: this.truncatedCount };
  }
  /** Offers refused by a full sink and retried. */
  get retries(): number { return this.retryCount; }

  start(sink: FeedSink): void {
    if (this.running !== null) throw new Error('replay already started');
    this.running = this.run(sink).then(this.resolveDone, (err: unknown) => {
      const cause = err instanceof Error ? err.message : String(err);
      this.rejectDone(new ReplayError('REPLAY_READ_FAILED', `cannot read replay file ${this.options.path}: ${cause}; check the replay path option`));
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    if (this.running === null) this.resolveDone(); // never started: nothing to wait for
    await this.running;
  }

  private async run(sink: FeedSink): Promise<void> {
    for (;;) {
      const delivered = await this.pass(sink);
      // A file with nothing deliverable would otherwise loop forever without yielding.
      if (this.stopped || !this.options.loop || delivered === 0) return;
    }
  }

  /** One read of the file; returns the updates delivered. */
  private async pass(sink: FeedSink): Promise<number> {
    const stream = createReadStream(this.options.path, { encoding: 'utf8' });
    const rl = createInterface({ input: stream, crlfDelay: Infinity });
    const { speed } = this.options;
    let lineNo = 0;
    let delivered = 0;
    let firstTs = NaN;
    let wallStart = 0;
    try {
      for await (const text of rl) {
        lineNo++;
        if (this.stopped) break;
        if (text.trim() === '') continue;
        this.linesRead++;
        const ts = this.parse(text, lineNo, sink);
        if (ts === null) continue;
        if (speed > 0 && Number.isFinite(ts) && ts > 0) {
          if (Number.isNaN(firstTs)) {
            firstTs = ts;
            wallStart = performance.now();
          }
          const wait = wallStart + (ts - firstTs) / speed - performance.now();
          if (wait > 0) await this.pause(wait);
        }
        while (!this.stopped && !sink.offer(this.update)) {
          this.retryCount++;
          await this.pause(RETRY_MS);
        }
        if (this.stopped) break;
        this.acceptedCount++;
        delivered++;
      }
    } finally {
      rl.close();
      stream.destroy();
    }
    return delivered;
  }

  /** Fills this.update from one line; returns its ts (ms) or null after reporting it malformed. */
  private parse(text: string, lineNo: number, sink: FeedSink): number | null {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return this.reject(sink, lineNo, 'invalid JSON');
    }
    const parsed = Line.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue.path.length > 0 ? issue.path.join('.') : 'line';
      return this.reject(sink, lineNo, `${where}: ${issue.message}`);
    }
    const l = parsed.data;
    const rawTs = l.ts ?? l.timestamp;
    if (rawTs === undefined) return this.reject(sink, lineNo, 'missing ts');
    const ts = typeof rawTs === 'number' ? rawTs : Date.parse(rawTs);
    if (!Number.isFinite(ts)) return this.reject(sink, lineNo, `unparseable ts ${JSON.stringify(rawTs)}`);
    const bids = l.bids ?? l.bid_levels ?? [];
    const asks = l.asks ?? l.ask_levels ?? [];
    const kind = l.type === 'delta' ? KIND_DELTA : KIND_SNAPSHOT;
    const max = this.options.maxLevels;
    if (bids.length > max || asks.length > max) {
      // A truncated delta would silently lose level changes; a snapshot keeps its best levels.
      if (kind === KIND_DELTA) return this.reject(sink, lineNo, `delta has more than maxLevels (${max}) levels on a side`);
      this.truncatedCount++;
    }
    const u = this.update;
    u.symbol = l.symbol;
    u.kind = kind;
    u.exchangeTs = ts;
    u.bidCount = fill(bids, u.bidPx, u.bidSz, max);
    u.askCount = fill(asks, u.askPx, u.askSz, max);
    return ts;
  }

  private async pause(ms: number): Promise<void> {
    try {
      await sleep(ms, undefined, { signal: this.abort.signal });
    } catch (err) {
      if (!this.stopped) throw err; // only our own abort is expected here
    }
  }

  private reject(sink: FeedSink, lineNo: number, reason: string): null {
    this.malformedLines++;
    sink.malformed(`line ${lineNo}: ${reason}`);
    return null;
  }
}

function fill(levels: Level[], px: Float64Array, sz: Float64Array, max: number): number {
  const n = Math.min(levels.length, max);
  for (let i = 0; i < n; i++) {
    const l = levels[i];
    if (Array.isArray(l)) {
      px[i] = l[0];
      sz[i] = l[1];
    } else {
      px[i] = l.price;
      sz[i] = 'size' in l ? l.size : l.volume;
    }
  }
  return n;
}
