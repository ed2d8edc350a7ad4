// Allocation-free JSON text writing into a Uint8Array: bytes, ASCII, numbers, ISO-8601 times.
//
// This runs once per market-data update (10^5–10^6 per second) in the shard actor, so the
// number and time writers create no strings and no objects: integer arithmetic on doubles
// and byte stores only. Every writer takes the position to write at and returns the position
// after what it wrote; the caller reserves room first (MAX_NUMBER_BYTES, ISO_TIME_MAX_BYTES).

const CH_0 = 48;
const CH_MINUS = 45;
const CH_DOT = 46;
const CH_COLON = 58;
const CH_PLUS = 43;

const TWO_53 = 9007199254740992;
/** Above this a fixed-point integer needs more than 21 digits; such values are written as null. */
const MAX_WRITABLE = 1e21;
/** At most this many decimals are written; more would be noise in prices, sizes and ratios. */
const MAX_DECIMALS = 8;
// 2^27 + 1: Veltkamp's splitter, for the exact error of a product (no FMA in JavaScript).
const SPLITTER = 134217729;

/** Powers of ten 10^0..10^21, all exact doubles. */
const POW10 = new Float64Array(22);
for (let i = 0, p = 1; i < POW10.length; i++, p *= 10) POW10[i] = p;

/**
 * Bytes writeNumber can produce at most: a sign and 21 integer digits (values up to 1e21);
 * a fraction has at most 16 digits (its scaled integer is below 2^53), a dot and a leading 0.
 */
export const MAX_NUMBER_BYTES = 22;
/** Bytes writeIsoTime can produce at most: an expanded year, `+275760-09-13T00:00:00.000Z`. */
export const ISO_TIME_MAX_BYTES = 27;

/** Encodes an ASCII string once, for writing many times with writeBytes. */
export function asciiBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  writeAscii(out, 0, s);
  return out;
}

/** Writes an ASCII string (rare or static text; the hot path pre-encodes with asciiBytes). */
export function writeAscii(out: Uint8Array, pos: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // A non-ASCII character would be truncated to one wrong byte: refuse instead.
    if (c > 0x7f) throw new RangeError(`writeAscii: non-ASCII character at index ${i} of ${JSON.stringify(s)}`);
    out[pos++] = c;
  }
  return pos;
}

/** Copies pre-encoded bytes (a plain loop: frame fragments are a few bytes each). */
export function writeBytes(out: Uint8Array, pos: number, bytes: Uint8Array): number {
  const n = bytes.length;
  for (let i = 0; i < n; i++) out[pos + i] = bytes[i];
  return pos + n;
}

/** "00".."99": two digits per table read halves the divisions. */
const DIGIT_PAIRS = new Uint8Array(200);
for (let i = 0; i < 100; i++) {
  DIGIT_PAIRS[2 * i] = CH_0 + ((i / 10) | 0);
  DIGIT_PAIRS[2 * i + 1] = CH_0 + (i % 10);
}

/** Writes a non-negative integer below 2^30 (a Smi everywhere), zero-padded on the left to `width` digits. */
function writeSmall(out: Uint8Array, pos: number, x: number, width: number): number {
  // Callers compute x in doubles; `| 0` lets the compiler use int32 ops below (a division by
  // a constant becomes a multiply) instead of float divisions.
  x |= 0;
  let len = x < 100000
    ? (x < 100 ? (x < 10 ? 1 : 2) : x < 1000 ? 3 : x < 10000 ? 4 : 5)
    : x < 10000000 ? (x < 1000000 ? 6 : 7) : x < 100000000 ? 8 : x < 1000000000 ? 9 : 10;
  if (len < width) len = width;
  let i = pos + len;
  // `%` on doubles would be a slow C call.
  while (x >= 100) {
    const q = (x / 100) | 0;
    const r = (x - 100 * q) << 1;
    out[--i] = DIGIT_PAIRS[r + 1];
    out[--i] = DIGIT_PAIRS[r];
    x = q;
  }
  if (x >= 10) {
    out[--i] = DIGIT_PAIRS[(x << 1) + 1];
    out[--i] = DIGIT_PAIRS[x << 1];
  } else {
    out[--i] = CH_0 + x;
  }
  while (i > pos) out[--i] = CH_0;
  return pos + len;
}

/**
 * Writes an integer-valued double of magnitude 2^53..1e21 exactly: x = m·2^e with m < 2^53,
 * doubled e times in three base-10^8 limbs so no intermediate exceeds 2^53.
 */
function writeLargeInteger(out: Uint8Array, pos: number, x: number): number {
  let e = 0;
  // Halving is exact, and once below 2^53 the value is an integer (the ulp was 2^e).
  while (x >= TWO_53) {
    x /= 2;
    e++;
  }
  // Rare path: `%` is exact on doubles, only slow.
  let l0 = x % 1e8;
  x = (x - l0) / 1e8;
  let l1 = x % 1e8;
  let l2 = (x - l1) / 1e8;
  for (; e > 0; e--) {
    l0 *= 2;
    l1 *= 2;
    l2 *= 2;
    if (l0 >= 1e8) { l0 -= 1e8; l1 += 1; }
    if (l1 >= 1e8) { l1 -= 1e8; l2 += 1; }
  }
  // x ≥ 2^53 > 10^8, so l2 is non-zero exactly when the value has more than 16 digits.
  if (l2 > 0) {
    pos = writeSmall(out, pos, l2, 1);
    pos = writeSmall(out, pos, l1, 8);
  } else {
    pos = writeSmall(out, pos, l1, 1);
  }
  return writeSmall(out, pos, l0, 8);
}

/**
 * The exact error of the double product a·p (Dekker's TwoProduct with Veltkamp's split; no
 * FMA in JavaScript): a·p = fl(a·p) + error. A power of ten up to 10^8 has at most 27
 * significant bits, so p needs no split. Rounding a·p half up, as toFixed does, needs it
 * only when the rounded product sits exactly on .5 (or on an integer, when its ulp is 1).
 */
function productError(a: number, p: number): number {
  const c = SPLITTER * a;
  const ah = c - (c - a);
  return (ah * p - a * p) + (a - ah) * p;
}

/** Below this, |v|·10^8 < 2^53: all 8 decimals are kept and int32 arithmetic suffices. */
const FAST_LIMIT = 90071992;

/**
 * writeNumberAt for 0 ≤ a < FAST_LIMIT, the usual price, size or ratio: the integer part and
 * the fraction scaled by 10^8 each fit int32, so no float division is needed. Rounds the
 * exact a·10^8 half up, as toFixed(8) does (see productError).
 */
function writeFixed8(out: Uint8Array, pos: number, a: number, negative: boolean): number {
  let ip = a | 0;
  const r = a - ip; // exact
  const prod = r * 1e8;
  let f = prod | 0; // floor: 0 ≤ prod < 10^8
  const frac = prod - f;
  if (frac > 0.5 || (frac === 0.5 && productError(r, 1e8) >= 0)) f += 1;
  if (f === 100000000) {
    ip += 1;
    f = 0;
  }
  if (ip === 0 && f === 0) {
    out[pos] = CH_0;
    return pos + 1;
  }
  if (negative) out[pos++] = CH_MINUS;
  pos = writeSmall(out, pos, ip, 1);
  if (f === 0) return pos;
  return writeFraction(out, pos, f, 8);
}

/** Writes `.` and 0 < f < 10^places as `places` digits, trailing zeros dropped first. */
function writeFraction(out: Uint8Array, pos: number, f: number, places: number): number {
  f |= 0;
  for (let q = (f / 100) | 0; f === 100 * q; q = (f / 100) | 0) {
    f = q;
    places -= 2;
  }
  const q = (f / 10) | 0;
  if (f === 10 * q) {
    f = q;
    places -= 1;
  }
  out[pos++] = CH_DOT;
  return writeSmall(out, pos, f, places);
}

// Why the *At variants read their value from a Float64Array: V8 passes arguments tagged, so
// a double handed to a function that is not inlined is boxed in a new heap number. Values
// read from a typed array inside the function, and Smi-sized arguments, allocate nothing.
const SCRATCH = new Float64Array(1);

/**
 * Writes a JSON number without exponent notation. NaN and ±Infinity become `null` (JSON has
 * no such numbers), and so does |v| ≥ 1e21 (no market quantity is that large, and it would
 * need exponent notation). Integers are exact. Other values are rounded to at most 8 decimals
 * (fewer when |v|·10^d would reach 2^53), exactly as `v.toFixed(d)` rounds, trailing zeros
 * trimmed; a value that rounds to zero is written `0`. On the hot path use writeNumberAt.
 */
export function writeNumber(out: Uint8Array, pos: number, v: number): number {
  SCRATCH[0] = v;
  return writeNumberAt(out, pos, SCRATCH, 0);
}

/** writeNumber of `src[i]`, without boxing the double. */
export function writeNumberAt(out: Uint8Array, pos: number, src: Float64Array, i: number): number {
  const v = src[i];
  if (v !== v || v === Infinity || v === -Infinity) return writeNull(out, pos);
  const a = v < 0 ? -v : v;
  if (a >= MAX_WRITABLE) return writeNull(out, pos);
  if (a < FAST_LIMIT) return writeFixed8(out, pos, a, v < 0);
  // The value becomes n / p: n a non-negative integer of at most 2^53, p = 10^d.
  let n: number;
  let p = 1;
  let d = 0;
  if (a === Math.floor(a)) {
    if (a >= TWO_53) {
      if (v < 0) out[pos++] = CH_MINUS;
      return writeLargeInteger(out, pos, a);
    }
    n = a;
  } else {
    // Not an integer, so a < 2^52: with 0 decimals the scaled value is below 2^53.
    d = MAX_DECIMALS;
    while (d > 0 && a * POW10[d] >= TWO_53) d--;
    p = POW10[d];
    const prod = a * p;
    // frac is a multiple of the product's ulp and |error| ≤ ulp/2, so only at frac = 0.5 (or
    // frac = 0 with ulp = 1) can the error decide; frac is exact (both below 2^53, less than 1 apart).
    n = Math.floor(prod);
    const frac = prod - n;
    if (frac > 0.5 || ((frac === 0.5 || frac === 0) && productError(a, p) >= 0.5 - frac)) n += 1;
  }
  if (n === 0) {
    out[pos++] = CH_0;
    return pos;
  }
  if (v < 0) out[pos++] = CH_MINUS;
  // Integer part ip and fraction f. A floored quotient can be one too high when the
  // dividend is just below a multiple of the divisor; the remainder's sign shows it.
  let ip = Math.floor(n / p);
  let f = n - ip * p;
  if (f < 0) {
    ip -= 1;
    f += p;
  }
  // ip < 2^53 in two halves below 10^8, so writeSmall only ever sees Smis.
  let hi = Math.floor(ip / 1e8);
  let lo = ip - hi * 1e8;
  if (lo < 0) {
    hi -= 1;
    lo += 1e8;
  }
  if (hi > 0) {
    pos = writeSmall(out, pos, hi, 1);
    pos = writeSmall(out, pos, lo, 8);
  } else {
    pos = writeSmall(out, pos, lo, 1);
  }
  return f === 0 ? pos : writeFraction(out, pos, f, d);
}

/** Writes `null`. */
export function writeNull(out: Uint8Array, pos: number): number {
  out[pos] = 110; // n
  out[pos + 1] = 117; // u
  out[pos + 2] = 108; // l
  out[pos + 3] = 108; // l
  return pos + 4;
}

/** Writes two digits of 0..99. */
function write2(out: Uint8Array, pos: number, x: number): number {
  out[pos] = DIGIT_PAIRS[x << 1];
  out[pos + 1] = DIGIT_PAIRS[(x << 1) + 1];
  return pos + 2;
}

/**
 * Writes `YYYY-MM-DDTHH:mm:ss.sssZ` (no quotes), byte for byte what `new Date(ms).toISOString()`
 * gives, including its expanded `±YYYYYY` years outside 0..9999 and its truncation of
 * fractional milliseconds.
 * A time Date cannot hold (non-finite, beyond ±8.64e15) is written as the epoch rather than
 * thrown: the hot path must not die on one bad timestamp.
 */
export function writeIsoTime(out: Uint8Array, pos: number, ms: number): number {
  SCRATCH[0] = ms;
  return writeIsoTimeAt(out, pos, SCRATCH, 0);
}

// The last day written and its text `YYYY-MM-DD` (up to `+275760-09-13`); typed arrays
// because a module-level `let` holding a number may box it on every write.
const DATE_BYTES = new Uint8Array(13);
const DATE_STATE = new Int32Array([0x7fffffff, 0]); // days since the epoch (none yet), length
const DATE_DAYS = 0;
const DATE_LENGTH = 1;

/**
 * Writes the civil date of `days` since 1970-01-01 as toISOString does. Days to a civil date:
 * Howard Hinnant's `civil_from_days`, eras of 400 years (146097 days) from 0000-03-01. Only
 * the era can be negative; everything after it is a small non-negative integer, so `| 0` floors.
 */
function writeDate(out: Uint8Array, pos: number, days: number): number {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = ((doe - ((doe / 1460) | 0) + ((doe / 36524) | 0) - ((doe / 146096) | 0)) / 365) | 0;
  const doy = doe - (365 * yoe + ((yoe / 4) | 0) - ((yoe / 100) | 0));
  const mp = ((5 * doy + 2) / 153) | 0;
  const day = doy - (((153 * mp + 2) / 5) | 0) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  if (year >= 0 && year <= 9999) {
    pos = writeSmall(out, pos, year, 4);
  } else {
    out[pos++] = year < 0 ? CH_MINUS : CH_PLUS;
    pos = writeSmall(out, pos, year < 0 ? -year : year, 6);
  }
  out[pos++] = CH_MINUS;
  pos = write2(out, pos, month);
  out[pos++] = CH_MINUS;
  return write2(out, pos, day);
}

/** writeIsoTime of `src[i]` ms, without boxing the double. */
export function writeIsoTimeAt(out: Uint8Array, pos: number, src: Float64Array, i: number): number {
  let ms = src[i];
  if (!(ms >= -8.64e15 && ms <= 8.64e15)) ms = 0;
  ms = Math.trunc(ms);
  const days = Math.floor(ms / 86400000);
  let rem = (ms - days * 86400000) | 0;
  // Consecutive updates share their day: the date part is computed once per day and copied.
  if (days !== DATE_STATE[DATE_DAYS]) {
    DATE_STATE[DATE_DAYS] = days;
    DATE_STATE[DATE_LENGTH] = writeDate(DATE_BYTES, 0, days);
  }
  const n = DATE_STATE[DATE_LENGTH];
  for (let k = 0; k < n; k++) out[pos + k] = DATE_BYTES[k];
  pos += n;
  out[pos++] = 84; // T
  const h = (rem / 3600000) | 0;
  rem -= h * 3600000;
  const m = (rem / 60000) | 0;
  rem -= m * 60000;
  const s = (rem / 1000) | 0;
  rem -= s * 1000;
  pos = write2(out, pos, h);
  out[pos++] = CH_COLON;
  pos = write2(out, pos, m);
  out[pos++] = CH_COLON;
  pos = write2(out, pos, s);
  out[pos++] = CH_DOT;
  pos = writeSmall(out, pos, rem, 3);
  out[pos++] = 90; // Z
  return pos;
}
