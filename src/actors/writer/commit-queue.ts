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
// in the table proves the whole batch is — replays never duplicate a row. A batch of trades only
// is looked up by its last trade; trades are inserted ON CONFLICT DO NOTHING, so even a batch
// the lookup cannot prove (its last trade was a copy of one stored before) commits again harmlessly.

import type pg from 'pg';
import type { Logger } from '../../log.js';
import { type BatchProgress, copyBatch } from '../../store/copy-batch.js';
import { Journal, JournalFullError } from '../../store/journal.js';
import { LatencyRecorder, nowMs } from '../../stats/latency.js';
import { type Batch, batchRows } from './batch.js';
import { decodeJournalRecord, encodeJournalRecord } from './journal-record.js';

const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 5000;

export interface CommitCounters {
  rowsCommitted: number; // book rows
  tradesCommitted: number; // trade rows of committed batches, stored now or before
  tradesAlreadyStored: number; // of those, trades the table held already (a replay by the exchange)
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
  readonly counters: CommitCounters = {
    rowsCommitted: 0, tradesCommitted: 0, tradesAlreadyStored: 0, batchesCommitted: 0, batchRetries: 0, alreadyCommitted: 0,
  };
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
    const rows = batchRows(b);
    if (this.memoryRows + rows > this.memoryLimitRows) {
      if (this.state === 'draining') return false; // the journal must empty before it can take more
      this.state = 'spilling';
      this.log.warn(`${this.memoryRows} rows wait for PostgreSQL: spilling further batches to the journal`);
      return this.toJournal(b);
    }
    this.memory.push(b);
    this.memoryRows += rows;
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
      this.memoryRows -= batchRows(b);
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
        if (mayBeCommitted && (await isCommitted(client, b))) {
          client.release();
          this.counters.alreadyCommitted++; // its COMMIT had landed before the connection failed
          this.counted(b);
          return true;
        }
        const t = nowMs();
        const r = await copyBatch(client, b.payload, b.progress, b.trades?.payload);
        client.release();
        const done = nowMs();
        this.copyLatency.recordMs(done - t);
        this.commitLag.recordMs(done - b.newestFeedTs);
        this.counted(b);
        this.counters.tradesAlreadyStored += (b.trades?.rows ?? 0) - r.tradesStored;
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

  private counted(b: Batch): void {
    this.counters.rowsCommitted += b.rows;
    this.counters.tradesCommitted += b.trades?.rows ?? 0;
    this.counters.batchesCommitted++;
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
        saved += batchRows(b);
      } catch (e) {
        this.log.error(`journal full at shutdown: ${batchRows(b)} uncommitted rows lost`, { error: (e as Error).message });
      }
    }
    this.journal.flush();
    this.memory = [];
    this.memoryRows = 0;
    return saved;
  }
}

/** Whether `b` is in the database: one of its book rows, else its last trade (its own epoch and seq, near its time: the (symbol, time) index). */
async function isCommitted(client: pg.PoolClient, b: Batch): Promise<boolean> {
  const p: BatchProgress | undefined = b.progress[0];
  if (p !== undefined) {
    const r = await client.query('select 1 from order_book_data where symbol = $1 and epoch = $2 and seq = $3 limit 1', [p.symbol, p.epoch, p.lastSeq]);
    return (r.rowCount ?? 0) > 0;
  }
  const t = b.trades?.last;
  if (t === undefined) return true; // an empty batch
  const r = await client.query(`
    select 1 from trades
     where symbol = $1
       and time between timestamptz 'epoch' + ($4::float8 - 1) * interval '1 millisecond'
                    and timestamptz 'epoch' + ($4::float8 + 1) * interval '1 millisecond'
       and epoch = $2 and seq = $3
     limit 1`, [t.symbol, t.epoch, t.seq, t.timeMs]);
  return (r.rowCount ?? 0) > 0;
}
