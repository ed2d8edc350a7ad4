// Baseline: one INSERT per row, each awaited (a prepared statement, as a careful user writes it).
// Run: DATABASE_URL=… node --import tsx bench/baselines/pg-insert-each.ts <copy-file> <rows>
//
// Reads the rows from the COPY-text file the persist scenario generated (bench/lib/rows.ts)
// before timing, then prints one line: `result {"rows","seconds","cpuSeconds"}`.

import { readFileSync } from 'node:fs';
import pg from 'pg';
import { COPY_COLUMNS, parseCopyLine } from '../lib/rows.js';

const [file, count] = process.argv.slice(2);
if (!file || !count) throw new TypeError('usage: pg-insert-each.ts <copy-file> <rows>');
const rows = readFileSync(file, 'utf8').split('\n', Number(count)).filter((l) => l !== '').map(parseCopyLine);
const sql = `insert into order_book_data (${COPY_COLUMNS.join(', ')}) values (${COPY_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})`;

const client = new pg.Client(process.env.DATABASE_URL);
await client.connect();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (const values of rows) await client.query({ name: 'insert_row', text: sql, values });
const seconds = (performance.now() - t0) / 1000;
const c = process.cpuUsage(cpu0);
await client.end();
process.stdout.write(`result ${JSON.stringify({ rows: rows.length, seconds, cpuSeconds: (c.user + c.system) / 1e6 })}\n`);
