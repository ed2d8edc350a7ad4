// One supervised actor: spawns its worker, waits for ready, restarts it with backoff when it dies.

import { EventEmitter } from 'node:events';
import type { TransferListItem, Worker } from 'node:worker_threads';
import { StartupError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { spawnWorker, workerEntry } from '../worker-url.js';

/** An actor that ran this long before dying restarts at the base backoff again. */
const STABLE_AFTER_MS = 30_000;
/** How long a closed actor may take to exit by itself before it is terminated. */
const EXIT_GRACE_MS = 3000;

export type ActorState = 'starting' | 'running' | 'restarting' | 'stopped';

export interface Spawned {
  workerData: unknown;
  transferList: TransferListItem[];
  /** Called once the worker reported ready, with its ready message. */
  onReady(msg: Record<string, unknown>): void;
  /** Called when the worker is gone (exit or terminate): release its ports. */
  onGone(): void;
}

export interface ActorHandleOptions {
  name: string; // e.g. shard-0
  entry: string; // workers/<entry>.ts|js
  backoffMs: number;
  backoffMaxMs: number;
  maxStartFailures: number;
  log: Logger;
  /** Builds fresh start-up data (new ports; the same shared memory) for every (re)start. */
  prepare(): Spawned;
}

/**
 * Emits 'fatal' (StartupError) when the actor failed to start `maxStartFailures` times in a
 * row: a restart loop would hide a broken deployment, so the supervisor stops instead.
 */
export class ActorHandle extends EventEmitter {
  state: ActorState = 'starting';
  restarts = 0;
  private worker?: Worker;
  private spawned?: Spawned;
  private failuresInRow = 0; // failed starts in a row: reaching maxStartFailures stops the process
  private quickCrashes = 0; // deaths soon after start, in a row: they grow the backoff
  private timer?: NodeJS.Timeout;
  private lastError = '';
  /** A start-up failure the actor reported as permanent: restarting cannot fix it. */
  private permanent?: string;

  constructor(private readonly o: ActorHandleOptions) {
    super();
  }

  get name(): string {
    return this.o.name;
  }

  /** Starts the worker; resolves when it is ready, rejects when it cannot start (after retries). */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onFatal = (e: Error) => reject(e);
      this.once('fatal', onFatal);
      this.once('ready', () => {
        this.off('fatal', onFatal);
        resolve();
      });
      this.spawn();
    });
  }

  private spawn(): void {
    this.timer = undefined;
    if (this.state === 'stopped') return;
    const s = this.o.prepare();
    this.spawned = s;
    const startedAt = Date.now();
    const w = spawnWorker(workerEntry(this.o.entry).url, {
      workerData: s.workerData,
      transferList: s.transferList,
      name: this.o.name,
    });
    this.worker = w;
    let ready = false;
    w.on('message', (m: { type?: string; message?: string; permanent?: boolean }) => {
      if (m?.type === 'ready') {
        ready = true;
        this.failuresInRow = 0;
        this.state = 'running';
        s.onReady(m as Record<string, unknown>);
        this.emit('ready');
      } else if (m?.type === 'fatal') {
        this.lastError = m.message ?? 'unknown';
        // A permanent failure (a port taken, a damaged journal) is the operator's to fix: it is
        // reported once, by the supervisor, as the one line start-up ends with.
        if (m.permanent && !ready) this.permanent = this.lastError;
        else this.o.log.error(`${this.o.name} reported a fatal error`, { error: this.lastError });
      }
    });
    w.on('error', (e) => {
      this.lastError = e.stack ?? e.message;
      this.o.log.error(`${this.o.name} crashed`, { error: e.message });
    });
    w.on('exit', (code) => {
      if (this.worker === w) this.worker = undefined;
      s.onGone();
      if (this.state === 'stopped') return;
      this.state = 'restarting';
      if (!ready) this.failuresInRow++;
      else this.failuresInRow = 0; // it ran: the next start is a first attempt again
      // An actor that dies soon after starting, again and again, must not restart at the base
      // delay forever: its backoff grows until it stays up for a while.
      this.quickCrashes = Date.now() - startedAt < STABLE_AFTER_MS ? this.quickCrashes + 1 : 1;
      if (this.permanent !== undefined) {
        this.state = 'stopped';
        this.emit('fatal', new StartupError(this.permanent));
        return;
      }
      if (!ready && this.failuresInRow >= this.o.maxStartFailures) {
        this.state = 'stopped';
        this.emit('fatal', new StartupError(
          `${this.o.name} failed to start ${this.failuresInRow} times in a row (last exit code ${code}): ${this.lastError || 'no error reported'}`,
        ));
        return;
      }
      this.restarts++;
      const delay = Math.min(this.o.backoffMaxMs, this.o.backoffMs * 2 ** (this.quickCrashes - 1));
      this.o.log.warn(`${this.o.name} exited (code ${code}); restarting in ${delay} ms`);
      this.timer = setTimeout(() => this.spawn(), delay);
    });
  }

  /** Kills the worker as a crash would (tests, operators): the handle restarts it. */
  async kill(): Promise<void> {
    await this.worker?.terminate();
  }

  /**
   * Stops for good: no restart. With `graceful`, the actor is asked to close (sockets first),
   * its ports are released and it exits by itself; terminate() is the last resort, because a
   * worker terminated while uWS holds sockets aborts the whole process.
   */
  async stop(graceful?: () => Promise<void>): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    const w = this.worker;
    const wasRunning = this.state === 'running';
    this.state = 'stopped';
    if (!w) return;
    if (graceful && wasRunning) {
      const exited = new Promise<boolean>((r) => w.once('exit', () => r(true)));
      try {
        await graceful();
      } catch (e) {
        this.o.log.error(`${this.o.name} failed to close`, { error: (e as Error).message });
      }
      this.spawned?.onGone(); // our ends of its ports: nothing of ours keeps it alive now
      const timeout = new Promise<boolean>((r) => setTimeout(() => r(false), EXIT_GRACE_MS).unref());
      if (await Promise.race([exited, timeout])) return;
      this.o.log.warn(`${this.o.name} did not exit within ${EXIT_GRACE_MS} ms of closing; terminating`);
    }
    await w.terminate();
  }
}
