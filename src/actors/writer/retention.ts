// Retention on plain PostgreSQL: the writer deletes book rows and trades older than RETENTION once a minute.
//
// TimescaleDB drops whole chunks by its own policy; plain PostgreSQL has no such job, and
// without one the table (and the disk under it) only grows. Deleted rows' space is reused by
// later inserts once autovacuum has passed, so the table settles at about RETENTION's worth.

import type pg from 'pg';
import type { Logger } from '../../log.js';
import { applyRetention } from '../../store/migrations.js';

/** Often enough that a pass deletes a minute's rows, not a backlog; rare enough to cost nothing. */
export const RETENTION_PASS_MS = 60_000;
/** The first pass waits for the start-up work (journal replay, first batches) to settle. */
const FIRST_PASS_MS = 5_000;

export class RetentionSweeper {
  deletedRows = 0;
  lastPassAt = 0;
  private timer?: NodeJS.Timeout;
  private pass?: Promise<void>;
  private failing = false;

  /** `applies()` is false when the database enforces retention itself (TimescaleDB policy). */
  constructor(
    private readonly pool: pg.Pool,
    private readonly retention: string,
    private readonly applies: () => boolean,
    private readonly log: Logger,
  ) {}

  start(firstPassMs = FIRST_PASS_MS, everyMs = RETENTION_PASS_MS): void {
    const run = (next: number) => {
      this.timer = setTimeout(() => {
        this.pass = this.sweep().finally(() => {
          if (this.timer) run(everyMs);
        });
      }, next);
      this.timer.unref();
    };
    run(firstPassMs);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.pass;
  }

  private async sweep(): Promise<void> {
    if (!this.applies()) return;
    try {
      const n = await applyRetention(this.pool, this.retention);
      this.deletedRows += n;
      this.lastPassAt = Date.now();
      if (this.failing) this.log.info('retention runs again');
      this.failing = false;
      if (n > 0) this.log.debug(`retention: ${n} rows older than ${this.retention} deleted`);
    } catch (e) {
      // The database being away is the commit queue's to report; say it once here.
      if (!this.failing) this.log.warn(`retention pass failed (retried every ${RETENTION_PASS_MS / 1000} s)`, { error: (e as Error).message });
      this.failing = true;
    }
  }
}
