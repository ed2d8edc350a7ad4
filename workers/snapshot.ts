// Snapshot pool task (piscina): builds a historical_data frame off the front actor's thread.
// Loaded by piscina from the front actor; never run directly.

import { move, transferableSymbol, valueSymbol } from 'piscina';
import { type HistoryTask, buildHistory } from '../src/protocol/history.js';

export default function snapshot(task: HistoryTask) {
  const r = buildHistory(task);
  // Transferred, not copied: a day of points is tens of megabytes. move() marks the
  // {transferable, value} pair so piscina posts `r` with r.buffer in the transfer list.
  return move({ [transferableSymbol]: [r.buffer], [valueSymbol]: r } as never);
}
