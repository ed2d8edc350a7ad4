// Baseline: multi-row INSERT, 1,000 rows per statement (16,000 parameters), one statement in flight.
// Run: DATABASE_URL=… node --import tsx bench/baselines/pg-insert-multi.ts <copy-file> <rows> [rowsPerStatement]
//
// Reads the rows from the COPY-text file the persist scenario generated (bench/lib/rows.ts)
// before timing, then prints one line: `result {"rows","seconds","cpuSeconds"}`.

import { readFileSync } from 'node:fs';
import pg from 'pg';
import { COPY_COLUMNS, parseCopyLine } from '../lib/rows.js';

const [file, count, per = '1000'] = process.argv.slice(2);
if (!file || !count) throw new TypeError('usage: pg-insert-multi.ts <copy-file> <rows> [rowsPerStatement]');
const perStatement = Number(per);
const rows = readFileSync(file, 'utf8').split('\n', Number(count)).filter((l) => l !== '').map(parseCopyLine);
const cols = COPY_COLUMNS.length;
const statementFor = (n: number): string =>
  `insert into order_book_data (${COPY_COLUMNS.join(', ')}) values ` +
  Array.from({ length: n }, (_, r) => `(${Array.from({ length: cols }, (_, c) => `$${r * cols + c + 1}`).join(', ')})`).join(', ');
const full = statementFor(perStatement);

const client = new pg.Client(process.env.DATABASE_URL);
await client.connect();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < rows.length; i += perStatement) {
  const chunk = rows.slice(i, i + perStatement);
  const values = chunk.flat();
  // Named (prepared once) for full chunks, like a driver's statement cache would.
  if (chunk.length === perStatement) await client.query({ name: 'insert_multi', text: full, values });
  else await client.query(statementFor(chunk.length), values);
}
const seconds = (performance.now() - t0) / 1000;
const c = process.cpuUsage(cpu0);
await client.end();
process.stdout.write(`result ${JSON.stringify({ rows: rows.length, seconds, cpuSeconds: (c.user + c.system) / 1e6 })}\n`);
