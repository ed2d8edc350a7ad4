// A damaged writer journal stops start-up with one line naming file and offset; after salvage the
// next start replays every valid record into PostgreSQL. The journal is built with the writer's own
// batch builder and record encoder, exactly as a run that lost PostgreSQL would have left it.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { BatchBuilder } from '../../src/actors/writer/batch.js';
import { encodeJournalRecord } from '../../src/actors/writer/journal-record.js';
import { salvageJournal } from '../../src/cli/journal.js';
import { StartupError } from '../../src/errors.js';
import { M_BEST_ASK, M_BEST_BID, M_MID, R_ASK_COUNT, R_BID_COUNT, R_EPOCH, R_FEED_TS, R_LEVELS, R_METRICS, R_SEQ, rawRecordFields } from '../../src/ring/layout.js';
import { Journal } from '../../src/store/journal.js';
import { createDeployment, startRuntime } from '../helpers/runtime.js';

const TAG = Math.random().toString(36).slice(2, 7).toUpperCase();
const SYMBOLS = [`J${TAG}.A`, `J${TAG}.B`];
const DEPTH = 20; // BOOK_DEPTH's default: the rows are those the writer would have built
const BATCHES = 8;
const ROWS_PER_SYMBOL = 50; // per batch
const DAMAGED = 3; // the batch whose payload gets a flipped byte
const EPOCH = Date.now();

let dep: Awaited<ReturnType<typeof createDeployment>> | undefined;
afterAll(async () => {
  await dep?.drop();
});

/** BATCHES writer batches of ROWS_PER_SYMBOL rows per symbol, seqs continuing from batch to batch. */
function journalRecords(): Uint8Array[] {
  const builder = new BatchBuilder(DEPTH, false);
  const f64 = new Float64Array(rawRecordFields(DEPTH));
  const records: Uint8Array[] = [];
  for (let b = 0; b < BATCHES; b++) {
    for (let i = 0; i < ROWS_PER_SYMBOL; i++) {
      const seq = b * ROWS_PER_SYMBOL + i + 1;
      for (const [k, symbol] of SYMBOLS.entries()) {
        const mid = 100 + k + seq * 0.01;
        f64.fill(0);
        f64[R_SEQ] = seq;
        f64[R_EPOCH] = EPOCH;
        f64[R_FEED_TS] = EPOCH + seq;
        f64[R_BID_COUNT] = 1;
        f64[R_ASK_COUNT] = 1;
        f64[R_METRICS + M_BEST_BID] = mid - 0.01;
        f64[R_METRICS + M_BEST_ASK] = mid + 0.01;
        f64[R_METRICS + M_MID] = mid;
        f64[R_LEVELS] = mid - 0.01;
        f64[R_LEVELS + 1] = 3;
        f64[R_LEVELS + 2 * DEPTH] = mid + 0.01;
        f64[R_LEVELS + 2 * DEPTH + 1] = 4;
        builder.add(symbol, f64, 0, Date.now());
      }
    }
    records.push(encodeJournalRecord(builder.close().batch));
  }
  return records;
}

async function storedRows(url: string): Promise<{ symbol: string; n: number; lo: number; hi: number }[]> {
  const db = new pg.Client(url);
  await db.connect();
  try {
    const r = await db.query<{ symbol: string; n: string; lo: string; hi: string }>(
      'select symbol, count(*) n, min(seq) lo, max(seq) hi from order_book_data where symbol = any($1) group by symbol order by symbol', [SYMBOLS]);
    return r.rows.map((x) => ({ symbol: x.symbol, n: Number(x.n), lo: Number(x.lo), hi: Number(x.hi) }));
  } finally {
    await db.end();
  }
}

describe('a damaged journal at start-up', () => {
  it('stops start-up naming file and offset; inspect shows it; after salvage a start replays every valid record', async () => {
    dep = await createDeployment();
    const journalDir = join(dep.dataDir, 'journal');
    const file = join(journalDir, 'journal.log');
    const j = await Journal.open(journalDir, { maxBytes: 1 << 30, fsync: true });
    const offsets: number[] = [];
    for (const r of journalRecords()) {
      offsets.push(j.bytes);
      j.append(r);
    }
    j.close();
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from('#'), 0, 1, offsets[DAMAGED] + 500); // inside its COPY rows
    fs.closeSync(fd);
    const damaged = fs.readFileSync(file);

    const overrides = { shards: 1, symbols: [`S${TAG}.SIM`], simUpdatesPerSecond: 1 };
    const err = await startRuntime(overrides, dep).then(
      async (rt) => {
        await rt.stop();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StartupError);
    const message = (err as Error).message;
    expect(message).not.toMatch(/\n/);
    expect(message).toContain(`journal ${file} is damaged at byte ${offsets[DAMAGED]} (${BATCHES - DAMAGED - 1} valid records after it`);
    expect(message).toContain('npm run journal -- salvage');
    expect(fs.readFileSync(file).equals(damaged)).toBe(true); // nothing truncated

    const inspect = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/journal.ts', 'inspect', '--dir', journalDir], { encoding: 'utf8' });
    expect(inspect.stderr).toBe('');
    expect(inspect.status).toBe(2);
    const lines = inspect.stdout.trim().split('\n');
    expect(lines).toHaveLength(1 + BATCHES + 1);
    expect(lines[1]).toMatch(new RegExp(`^ +@0  record  [\\d,]+ bytes: ${2 * ROWS_PER_SYMBOL} rows, 2 symbols: J${TAG}\\.A seq 1-${ROWS_PER_SYMBOL}, J${TAG}\\.B seq 1-${ROWS_PER_SYMBOL}$`));
    expect(lines[1 + DAMAGED]).toMatch(new RegExp(`^ +@${offsets[DAMAGED]}  DAMAGED [\\d,]+ bytes: CRC mismatch$`));
    expect(lines.at(-1)).toMatch(new RegExp(`^damaged: 1 range \\([\\d,]+ bytes\\), the first at byte ${offsets[DAMAGED]} with ${BATCHES - DAMAGED - 1} valid records after it; ` +
      `${BATCHES - 1} valid records \\(${(BATCHES - 1) * 2 * ROWS_PER_SYMBOL} rows\\) in all`));

    // The function, not the CLI: the CLI also takes DATA_DIR's lock, which this process's failed start still holds.
    const salvaged = salvageJournal(journalDir);
    expect(salvaged).toMatchObject({ records: BATCHES - 1, rows: (BATCHES - 1) * 2 * ROWS_PER_SYMBOL });
    expect(fs.readFileSync(salvaged.sideFile!).equals(damaged.subarray(offsets[DAMAGED], offsets[DAMAGED + 1]))).toBe(true);

    // Same directory, second path: the failed start above left DATA_DIR's lock registered in
    // this process (Supervisor.start() does not release it when it rejects), keyed by path.
    const again = `${dep.dataDir}-again`;
    fs.symlinkSync(dep.dataDir, again);
    const rt = await startRuntime({ ...overrides, dataDir: again }, dep); // the writer replays the journal before it reports ready
    try {
      const missing = { lo: DAMAGED * ROWS_PER_SYMBOL + 1, hi: (DAMAGED + 1) * ROWS_PER_SYMBOL };
      expect(await storedRows(dep.url)).toEqual(SYMBOLS.map((symbol) => ({ symbol, n: (BATCHES - 1) * ROWS_PER_SYMBOL, lo: 1, hi: BATCHES * ROWS_PER_SYMBOL })));
      const seqs = await rt.db.query<{ seq: string }>('select seq from order_book_data where symbol = $1 and seq between $2 and $3', [SYMBOLS[0], missing.lo, missing.hi]);
      expect(seqs.rowCount).toBe(0); // the damaged batch's rows are in the side file, nowhere else
      expect(fs.statSync(file).size).toBe(0); // committed, so the journal was emptied
    } finally {
      await rt.stop();
      fs.rmSync(again);
    }
  });
});
