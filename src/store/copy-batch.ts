// One batch of rows into PostgreSQL by COPY, with its ingest progress, in one transaction;
// and what a restart reads back (each symbol's progress and its last stored book).
//
// A batch counts as committed only when COMMIT resolved: the rows, its trades and
// `ingest_progress` become visible together, so progress never claims a row that is not there.
//
// Trades go through a staging table: COPY cannot skip a row that collides, and a trade may
// arrive twice (a reconnect replays trades), so they are COPYed into a temporary table of the
// session and moved with INSERT … SELECT … ON CONFLICT DO NOTHING; the first copy stays.

import type pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { TickplantError } from '../errors.js';
import { COPY_COLUMNS } from './row-encoder.js';
import { TRADE_COPY_COLUMNS } from './trade-row-encoder.js';

export interface BatchProgress {
  symbol: string;
  epoch: number;
  lastSeq: number;
  lastTimeMs: number;
}

/** One trade of a batch, enough to find its row again: (symbol, epoch, seq) near its time. */
export interface TradeMark {
  symbol: string;
  epoch: number;
  seq: number;
  /** The row's time column (exchange time, else feed time), ms since the epoch. */
  timeMs: number;
}

const COPY_SQL = `copy order_book_data (${COPY_COLUMNS.join(', ')}) from stdin`;

// One per session, created outside any batch's transaction (a rollback would drop it again);
// ON COMMIT DELETE ROWS empties it at every COMMIT, a rollback takes its rows with the batch.
// Temporary tables are not WAL-logged: staging costs a COPY into local buffers.
const STAGING = 'tickplant_trades_staging';
const CREATE_STAGING = `create temp table if not exists ${STAGING} (like trades) on commit delete rows`;
const COPY_TRADES_SQL = `copy ${STAGING} (${TRADE_COPY_COLUMNS.join(', ')}) from stdin`;
// In sequence order, so of two copies of a trade in one batch the first keeps its (epoch, seq).
const INSERT_TRADES = `
  insert into trades (${TRADE_COPY_COLUMNS.join(', ')})
  select ${TRADE_COPY_COLUMNS.join(', ')} from ${STAGING} order by epoch, seq
  on conflict do nothing`;
/** Connections (pg reuses a client object for its connection's life) whose session has the staging table. */
const staged = new WeakSet<pg.ClientBase>();

/** Payload slice per write(): large enough that per-message overhead vanishes, small enough to interleave. */
const CHUNK_BYTES = 256 * 1024;

// One statement for the whole batch. distinct on: ON CONFLICT cannot touch a row twice in one
// statement, so duplicates of a (symbol, epoch) in the array keep only the highest seq; and
// greatest(): a late, older entry never moves progress backwards.
const UPSERT_PROGRESS = `
  insert into ingest_progress (symbol, epoch, last_seq, last_time, updated_at)
  select distinct on (symbol, epoch) symbol, epoch, last_seq,
         timestamptz 'epoch' + last_time_ms * interval '1 millisecond', now()
    from unnest($1::text[], $2::bigint[], $3::bigint[], $4::float8[]) as p(symbol, epoch, last_seq, last_time_ms)
   order by symbol, epoch, last_seq desc
  on conflict (symbol, epoch) do update
     set last_seq   = greatest(ingest_progress.last_seq, excluded.last_seq),
         last_time  = case when excluded.last_seq >= ingest_progress.last_seq
                           then excluded.last_time else ingest_progress.last_time end,
         updated_at = now()`;

export interface CopyResult {
  /** Trades inserted; the others of the batch were stored already (or twice in it). */
  tradesStored: number;
}

/**
 * `BEGIN; COPY order_book_data … FROM STDIN; [COPY staging; INSERT INTO trades … ON CONFLICT
 * DO NOTHING;] upsert ingest_progress; COMMIT`. `payload` is CopyRowEncoder output, `trades`
 * TradeRowEncoder output (either may be empty); both are handed to the socket in slices without
 * copying, so they must not change until this resolves.
 *
 * On any error the transaction is rolled back and the error rethrown: nothing of the batch is
 * stored. Then release the client with `client.release(err)`, so that a connection that died
 * is not pooled. One case is undecidable from here: the connection dying after COMMIT was
 * sent. The batch may then be committed, so before retrying it the writer looks one of its
 * rows up in order_book_data, or its last trade in trades for a batch of trades only
 * (commit-queue.ts): batches are atomic, so one row proves them all.
 */
export async function copyBatch(client: pg.PoolClient, payload: Buffer, progress: BatchProgress[], trades?: Buffer): Promise<CopyResult> {
  // pg emits a socket error on the client as well as failing the query in flight, and pg-pool
  // listens only while the client is idle in the pool: without a listener here, a connection
  // dropped mid-batch would be an uncaught 'error' that ends the process. The query's
  // rejection carries the error to the caller; the listener remembers it for rollback().
  let socketError: Error | undefined;
  const onError = (err: Error): void => { socketError ??= err; };
  client.on('error', onError);
  try {
    const withTrades = trades !== undefined && trades.length > 0;
    if (withTrades && !staged.has(client)) {
      await client.query(CREATE_STAGING);
      staged.add(client);
    }
    await client.query('begin');
    if (payload.length > 0) await copyPayload(client, COPY_SQL, payload);
    let tradesStored = 0;
    if (withTrades) {
      await copyPayload(client, COPY_TRADES_SQL, trades);
      tradesStored = (await client.query(INSERT_TRADES)).rowCount ?? 0;
    }
    if (progress.length > 0) {
      const n = progress.length;
      const symbols = new Array<string>(n);
      const epochs = new Array<number>(n);
      const seqs = new Array<number>(n);
      const times = new Array<number>(n);
      for (let i = 0; i < n; i++) {
        const p = progress[i];
        symbols[i] = p.symbol;
        epochs[i] = p.epoch;
        seqs[i] = p.lastSeq;
        times[i] = p.lastTimeMs;
      }
      await client.query(UPSERT_PROGRESS, [symbols, epochs, seqs, times]);
    }
    await client.query('commit');
    return { tradesStored };
  } catch (err) {
    await rollback(client, err, socketError !== undefined);
    throw err;
  } finally {
    // After a socket error the listener stays: the dead client may still emit (the 'end' that
    // follows a reset), and the first error has already been reported. pg-pool does the same
    // for clients that die idle.
    if (socketError === undefined) client.removeListener('error', onError);
  }
}

/** Streams the payload through COPY … FROM STDIN; resolves once the server has acknowledged the COPY. */
function copyPayload(client: pg.PoolClient, sql: string, payload: Buffer): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const stream = client.query(copyStreams.from(sql));
    let failed = false;
    const fail = (err: unknown): void => {
      if (failed) return;
      failed = true;
      reject(err);
    };
    // `on`, not `once`: pg-copy-streams emits errors itself, and a second 'error' with no
    // listener would crash the process. 'finish' comes after CommandComplete: all rows parsed
    // and inserted (visible to others only after COMMIT).
    stream.on('error', fail);
    stream.once('finish', () => { if (!failed) resolve(); });
    let offset = 0;
    const pump = (): void => {
      try {
        while (!failed && offset < payload.length) {
          const end = Math.min(offset + CHUNK_BYTES, payload.length);
          const more = stream.write(payload.subarray(offset, end));
          offset = end;
          // Backpressure: the socket holds enough; continue when it has drained. If the server
          // fails the COPY meanwhile, 'drain' may never come, but 'error' settles the promise.
          if (!more) {
            stream.once('drain', pump);
            return;
          }
        }
        if (!failed) stream.end();
      } catch (err) {
        // write() throws synchronously if the stream lost its connection in between.
        fail(err);
      }
    };
    pump();
  });
}

/** ROLLBACK after a failed batch; the caller rethrows the batch's error. */
async function rollback(client: pg.PoolClient, cause: unknown, socketFailed: boolean): Promise<void> {
  try {
    await client.query('rollback');
  } catch (rollbackError) {
    // A dead connection cannot roll back, and need not: the server aborts the open transaction
    // of a session whose connection ends, so nothing of the batch can commit. The batch's
    // own error (usually the connection error itself) is the one worth reporting.
    if (socketFailed || connectionDead(client)) return;
    const e = new TickplantError('store_rollback_failed',
      `copyBatch: ROLLBACK failed (${messageOf(rollbackError)}) after the batch failed (${messageOf(cause)}); release this client with release(err) so the pool discards it`);
    e.cause = cause;
    throw e;
  }
}

/**
 * Whether pg gave up on this client's connection. pg 8 exposes no public flag: it sets
 * `_queryable = false` after a connection error and `_ending` on end(); every later query
 * fails at once with "… is not queryable".
 */
function connectionDead(client: pg.PoolClient): boolean {
  const c = client as unknown as { _queryable?: boolean; _ending?: boolean };
  return c._queryable === false || c._ending === true;
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** The latest epoch of every symbol, with its last committed seq and that row's time. */
export async function loadProgress(pool: pg.Pool): Promise<Map<string, { epoch: number; lastSeq: number; lastTimeMs: number }>> {
  const r = await pool.query<{ symbol: string; epoch: string; last_seq: string; last_time_ms: number | null }>(`
    select distinct on (symbol) symbol, epoch, last_seq,
           (extract(epoch from last_time) * 1000)::float8 as last_time_ms
      from ingest_progress
     order by symbol, epoch desc`);
  const out = new Map<string, { epoch: number; lastSeq: number; lastTimeMs: number }>();
  for (const row of r.rows) {
    out.set(row.symbol, { epoch: Number(row.epoch), lastSeq: Number(row.last_seq), lastTimeMs: row.last_time_ms ?? NaN });
  }
  return out;
}

/** The stored book of one row (levels best first) and its time, to rebuild a book after a restart. */
export async function loadLastRow(pool: pg.Pool, symbol: string, epoch: number, seq: number): Promise<{ bids: [number, number][]; asks: [number, number][]; timeMs: number } | undefined> {
  const r = await pool.query<{ bid_levels: [number, number][] | null; ask_levels: [number, number][] | null; time_ms: number }>(`
    select bid_levels, ask_levels, (extract(epoch from time) * 1000)::float8 as time_ms
      from order_book_data
     where symbol = $1 and epoch = $2 and seq = $3
     limit 1`, [symbol, epoch, seq]);
  if (r.rows.length === 0) return undefined;
  const row = r.rows[0];
  return { bids: row.bid_levels ?? [], asks: row.ask_levels ?? [], timeMs: row.time_ms };
}
