// Snapshot pool task (piscina): history points from the shared rings or from PostgreSQL, stored trades and candles, built
// off the front actor's thread. Loaded by piscina from the front actor; never run directly.

import { move, transferableSymbol, valueSymbol } from 'piscina';
import { type MemoryHistoryTask, memoryPoints } from '../src/protocol/history.js';
import { type DatabaseHistoryTask, databasePoints } from '../src/store/history-points.js';
import { type StoredTradesTask, storedTrades } from '../src/store/trades-task.js';
import { type StoredCandlesTask, storedCandles } from '../src/store/candles-task.js';

export default async function snapshot(task: MemoryHistoryTask | DatabaseHistoryTask | StoredTradesTask | StoredCandlesTask) {
  if (task.kind === 'trades') return storedTrades(task); // small: cloned, not moved
  if (task.kind === 'candles') return storedCandles(task);
  const r = task.kind === 'memory' ? memoryPoints(task) : await databasePoints(task);
  // Transferred, not copied: a day of points is tens of megabytes. move() marks the
  // {transferable, value} pair so piscina posts `r` with r.buffer in the transfer list.
  return move({ [transferableSymbol]: [r.buffer], [valueSymbol]: r } as never);
}
