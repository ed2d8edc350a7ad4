// Replay files of known, valid order books, and the checks persistence tests make on stored rows.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

/** Writes `perSymbol` valid books for each symbol, `stepMs` apart, interleaved; returns the path. */
export function writeBooks(dir: string, symbols: string[], perSymbol: number, stepMs: number, name = 'books.ndjson'): string {
  const t0 = Date.now();
  const lines: string[] = [];
  for (let i = 0; i < perSymbol; i++) {
    for (const [k, symbol] of symbols.entries()) {
      const mid = 100 + k * 10 + (i % 50) * 0.01;
      lines.push(JSON.stringify({
        symbol, ts: t0 + i * stepMs,
        bids: [[+(mid - 0.01).toFixed(2), 5 + (i % 7)], [+(mid - 0.02).toFixed(2), 9]],
        asks: [[+(mid + 0.01).toFixed(2), 4 + (i % 5)], [+(mid + 0.02).toFixed(2), 8]],
      }));
    }
  }
  const path = join(dir, name);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

export interface SequenceRow {
  symbol: string;
  epoch: number;
  n: number;
  lo: number;
  hi: number;
  distinct: number;
}

/** Per (symbol, epoch): row count, first and last seq, distinct seqs. */
export async function storedSequences(url: string): Promise<SequenceRow[]> {
  const db = new pg.Client(url);
  await db.connect();
  try {
    const r = await db.query<{ symbol: string; epoch: string; n: string; lo: string; hi: string; d: string }>(
      `select symbol, epoch, count(*) n, min(seq) lo, max(seq) hi, count(distinct seq) d
         from order_book_data group by symbol, epoch order by symbol, epoch`);
    return r.rows.map((x) => ({ symbol: x.symbol, epoch: Number(x.epoch), n: Number(x.n), lo: Number(x.lo), hi: Number(x.hi), distinct: Number(x.d) }));
  } finally {
    await db.end();
  }
}

/** Gaps or duplicates in the stored sequences, as readable strings (empty: none). */
export function sequenceDefects(rows: SequenceRow[]): string[] {
  const out: string[] = [];
  for (const r of rows) {
    if (r.distinct !== r.n) out.push(`${r.symbol}/${r.epoch}: ${r.n - r.distinct} duplicate seqs`);
    if (r.hi - r.lo + 1 !== r.distinct) out.push(`${r.symbol}/${r.epoch}: ${r.hi - r.lo + 1 - r.distinct} missing seqs between ${r.lo} and ${r.hi}`);
  }
  return out;
}
