// The seqlock every shared store uses: an Int32 version word per header or slot, odd while it is written.
//
// Writer (the one owner): beginWrite(v) → plain field writes → endWrite(v). Reader (any thread):
// copyConsistent copies the fields and accepts them only if the version was even and unchanged.
// Atomics.load/store are sequentially consistent, so the plain writes cannot be seen outside the
// odd window and a torn copy is always detected.

/**
 * A reader gives up after this many torn reads in a row: the writer died mid-write, or was
 * descheduled inside its window. Callers treat `false` as "not available now" (a resync at
 * worst, never a wrong value).
 */
export const MAX_READ_ATTEMPTS = 10_000;

/**
 * Opens the write window of version word `v`. Idempotent on purpose: a writer killed inside a
 * window leaves the version odd, and a plain +1 would flip the slot's parity for good (readers
 * would accept half-written records). There is one writer.
 */
export function beginWrite(i32: Int32Array, v: number): void {
  Atomics.store(i32, v, Atomics.load(i32, v) | 1); // odd: readers of this slot retry or reject
}

export function endWrite(i32: Int32Array, v: number): void {
  Atomics.store(i32, v, (Atomics.load(i32, v) | 1) + 1); // even: the fields written are published
}

/** Copies f64[from…from+n) into out[outBase…] when version word `v` shows no write during the copy; false after MAX_READ_ATTEMPTS torn tries. */
export function copyConsistent(i32: Int32Array, f64: Float64Array, v: number, from: number, n: number, out: Float64Array, outBase: number): boolean {
  for (let attempt = 0; attempt < MAX_READ_ATTEMPTS; attempt++) {
    const v1 = Atomics.load(i32, v);
    if ((v1 & 1) === 1) continue; // writer inside its window: retry
    for (let i = 0; i < n; i++) out[outBase + i] = f64[from + i];
    if (Atomics.load(i32, v) === v1) return true;
  }
  return false;
}
