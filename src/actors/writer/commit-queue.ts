// Closed batches on their way into PostgreSQL: in memory, then in the journal, committed in order.
//
//   push ─► memory (≤ WRITER_MEMORY_ROWS) ─► COPY … COMMIT ─► committed
//              └─ full ─► journal on disk (≤ JOURNAL_MAX_BYTES) ─► drained when memory is empty
//
// Order: while the journal holds batches, newer batches go to the journal too ("spilling");
// once the memory is empty the journal is replayed ("draining") while newer batches wait in
// memory. The journal is truncated only after every batch in it was committed.
// A batch whose COMMIT outcome is unknown (connection lost after COMMIT was sent), and every
// journaled batch at replay, is first looked up: batches are atomic, so one of its rows being
// in the table proves the whole batch is — replays never duplicate a row.

import type pg from 'pg';
import type { Logger } from '../../log.js';
import { type BatchProgress, copyBatch } from '../../store/copy-batch.js';
import { Journal, JournalFullError } from '../../store/journal.js';
import { LatencyRecorder, nowMs } from '../../stats/latency.js';
import type { Batch } from './batch.js';
import { decodeJournalRecord, encodeJournalRecord } from './journal-record.js';

const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 5000;

export interface CommitCounters {
  rowsCommitted: number;
  batchesCommitted: number;
  batchRetries: number;
  alreadyCommitted: number; // batches found stored when retried (counted in the two above too)
}

export class CommitQueue {
  private memory: Batch[] = [];
  private memoryRows = 0;
  private state: 'off' | 'spilling' | 'draining';
  private wake?: () => void;
  private running = true;
  dbUp = false;
  lastError?: string;
  readonly counters: CommitCounters = { rowsCommitted: 0, batchesCommitted: 0, batchRetries: 0, alreadyCommitted: 0 };
  readonly copyLatency = new LatencyRecorder();
  readonly commitLag = new LatencyRecorder();

  constructor(
    private readonly pool: pg.Pool,
    private readonly journal: Journal,
    private readonly memoryLimitRows: number,
    private readonly ensureSchema: () => Promise<void>,
    private readonly log: Logger,
  ) {
    this.state = journal.records > 0 ? 'draining' : 'off';
  }

  get pendingRows(): number {
    return this.memoryRows;
  }

  get journalActive(): boolean {
    return this.state !== 'off';
  }

  /** Nothing in memory and nothing in the journal. */
  get empty(): boolean {
    return this.memory.length === 0 && this.state === 'off';
  }

  /** Queues a closed batch; false when it cannot be held (journal full): the caller stops taking rows. */
  push(b: Batch): boolean {
    if (this.state === 'spilling') return this.toJournal(b);
    if (this.memoryRows + b.rows > this.memoryLimitRows) {
      if (this.state === 'draining') return false; // the journal must empty before it can take more
      this.state = 'spilling';
      this.log.warn(`${this.memoryRows} rows wait for PostgreSQL: spilling further batches to the journal`);
      return this.toJournal(b);
    }
    this.memory.push(b);
    this.memoryRows += b.rows;
    this.wake?.();
    return true;
  }

  private toJournal(b: Batch): boolean {
    try {
      this.journal.append(encodeJournalRecord(b));
      this.journal.flush();
      return true;
    } catch (e) {
      if (e instanceof JournalFullError) return false;
      throw e;
    }
  }

  async run(): Promise<void> {
    while (this.running) {
      if (this.state === 'draining') {
        await this.drainJournal();
        continue;
      }
      const b = this.memory[0];
      if (b === undefined) {
        if (this.state === 'spilling') {
          this.state = 'draining';
          continue;
        }
        await new Promise<void>((r) => (this.wake = r));
        this.wake = undefined;
        continue;
      }
      if (!(await this.commit(b))) break;
      this.memory.shift();
      this.memoryRows -= b.rows;
    }
  }

  private async drainJournal(): Promise<void> {
    let n = 0;
    for (const record of this.journal.replay()) {
      if (!this.running) return;
      if (!(await this.commit(decodeJournalRecord(record), true))) return;
      n++;
    }
    // Stopped meanwhile: stop() may have appended memory batches after what was replayed.
    if (!this.running) return;
    this.journal.truncate(); // every batch in it is committed: only now
    this.state = 'off';
    if (n > 0) this.log.info(`journal replayed: ${n} batches committed`);
  }

  /** Commits `b`, retrying with backoff until it is in PostgreSQL; false if stopped first. */
  private async commit(b: Batch, fromJournal = false): Promise<boolean> {
    let delay = RETRY_FIRST_MS;
    let mayBeCommitted = fromJournal;
    for (let attempt = 0; this.running; attempt++) {
      let client: pg.PoolClient | undefined;
      try {
        client = await this.pool.connect();
        await this.ensureSchema();
        if (mayBeCommitted && (await isCommitted(client, b.progress))) {
          client.release();
          this.counters.alreadyCommitted++; // its COMMIT had landed before the connection failed
          this.counters.rowsCommitted += b.rows;
          this.counters.batchesCommitted++;
          return true;
        }
        const t = nowMs();
        await copyBatch(client, b.payload, b.progress);
        client.release();
        const done = nowMs();
        this.copyLatency.recordMs(done - t);
        this.commitLag.recordMs(done - b.newestFeedTs);
        this.counters.rowsCommitted += b.rows;
        this.counters.batchesCommitted++;
        if (!this.dbUp) this.log.info('PostgreSQL is reachable: committing');
        this.dbUp = true;
        return true;
      } catch (e) {
        client?.release(e as Error); // a broken connection must not return to the pool
        this.counters.batchRetries++;
        const msg = (e as Error).message;
        if (this.dbUp || attempt === 0) this.log.warn(`PostgreSQL write failed; retrying with backoff (rows are held)`, { error: msg });
        this.dbUp = false;
        this.lastError = msg;
        mayBeCommitted = true; // the COMMIT may have reached the server before the failure
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(RETRY_MAX_MS, delay * 2);
      }
    }
    return false;
  }

  /** Resolves when every pushed batch is committed, or false after `timeoutMs`. */
  async flushed(timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (!this.empty) {
      if (Date.now() > until) return false;
      await new Promise((r) => setTimeout(r, 10));
    }
    return true;
  }

  /**
   * Stops committing; batches still in memory, then `extra` (newer ones the caller could not
   * push), go to the journal, replayed at the next start.
   */
  stop(extra: Batch[] = []): number {
    this.running = false;
    this.wake?.();
    let saved = 0;
    for (const b of [...this.memory, ...extra]) {
      try {
        this.journal.append(encodeJournalRecord(b));
        saved += b.rows;
      } catch (e) {
        this.log.error(`journal full at shutdown: ${b.rows} uncommitted rows lost`, { error: (e as Error).message });
      }
    }
    this.journal.flush();
    this.memory = [];
    this.memoryRows = 0;
    return saved;
  }
}

async function isCommitted(client: pg.PoolClient, progress: BatchProgress[]): Promise<boolean> {
  const p = progress[0];
  if (p === undefined) return true;
  const r = await client.query('select 1 from order_book_data where symbol = $1 and epoch = $2 and seq = $3 limit 1', [p.symbol, p.epoch, p.lastSeq]);
  return (r.rowCount ?? 0) > 0;
}
