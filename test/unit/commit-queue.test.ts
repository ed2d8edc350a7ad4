// CommitQueue ordering rules that need no database: a stop() during a journal replay keeps
// the batches it journaled (regression: truncating the journal after the replay would lose them).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { Batch } from '../../src/actors/writer/batch.js';
import { CommitQueue } from '../../src/actors/writer/commit-queue.js';
import { logger } from '../../src/log.js';
import { Journal } from '../../src/store/journal.js';

const batch = (): Batch => ({ payload: Buffer.alloc(0), rows: 100, progress: [], newestFeedTs: 0 });
const log = logger('test');

describe('CommitQueue', () => {
  it('does not truncate the journal when stopped while replaying it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tickplant-cq-'));
    let j = await Journal.open(dir, { maxBytes: 1 << 20, fsync: false });
    const noDb = {} as pg.Pool;
    const earlier = new CommitQueue(noDb, j, 1000, async () => {}, log);
    (earlier as unknown as { state: string }).state = 'spilling'; // a previous run left one batch
    earlier.push(batch());
    j.close();

    j = await Journal.open(dir, { maxBytes: 1 << 20, fsync: false });
    expect(j.records).toBe(1);
    let commitInFlight!: () => void;
    const slowSchema = () => new Promise<void>((r) => (commitInFlight = r)); // the replayed COMMIT hangs
    const pool = { connect: async () => ({ release() {}, query: async () => ({ rowCount: 0 }) }) } as unknown as pg.Pool;
    const q = new CommitQueue(pool, j, 1000, slowSchema, log);
    const loop = q.run();
    await new Promise((r) => setTimeout(r, 20));
    expect(q.push(batch())).toBe(true); // newer batches wait in memory while the journal drains
    expect(q.push(batch())).toBe(true);
    expect(q.stop()).toBe(200); // journals them
    commitInFlight();
    await loop;
    j.close();
    const next = await Journal.open(dir, { maxBytes: 1 << 20, fsync: false });
    expect(next.records).toBe(3); // the old batch (not known committed) and the two new ones
    next.close();
  });
});
