// Append-only on-disk journal of rows PostgreSQL has not committed yet (one writer, one file).
//
// File `<dir>/journal.log`, a sequence of records, integers little-endian:
//
//   ┌────────────┬────────────┬──────────────────┐
//   │ u32 length │ u32 crc32  │ payload (length) │  … next record
//   └────────────┴────────────┴──────────────────┘
//     crc32 = CRC-32 (IEEE, zlib's) of the payload only; length ≥ 1 (an all-zero header is
//     what a zero-filled, extended-but-unwritten tail looks like, and CRC-32 of nothing is 0).
//
// A bad record (short header, zero length, length past the end, CRC mismatch) is one of two things:
// - a torn tail: a crash cut the last append short, so nothing valid follows it. open() and
//   replay() truncate the file there with one warning;
// - damage (a bad disk block, a stray write): valid records follow it. Those are rows PostgreSQL
//   never committed, so nothing is truncated: open() throws JournalCorruptError, start-up stops
//   and the operator runs `npm run journal -- inspect|salvage` (src/cli/journal.ts).
// Telling them apart means searching past the bad record for valid ones (resync(), below).
// Life cycle in the writer: append() rows while PostgreSQL is down → flush() (fdatasync) before
// acknowledging → replay() into COPY → truncate() only after COMMIT succeeded.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { StartupError, TickplantError } from '../errors.js';

const HEADER_BYTES = 8;
export const JOURNAL_FILE = 'journal.log';
const READ_CHUNK = 1 << 20;
/** Longest record length the first resync tier considers; each further tier ×8. */
const RESYNC_FIRST_CAP = 1 << 20;
/** How far a chain of lengths is followed to witness a record (landsOn). */
const CHAIN_HOPS = 64;

/** append() would take the journal past maxBytes: stop accepting rows (backpressure). */
export class JournalFullError extends TickplantError {
  constructor(readonly bytes: number, readonly maxBytes: number) {
    super('journal_full', `journal full: ${bytes} of ${maxBytes} bytes used; raise the journal's maxBytes or restore PostgreSQL`);
  }
}

/** Valid records (or bytes the search could not finish) follow a bad one: start-up stops, the file is left as it is for the operator. */
export class JournalCorruptError extends StartupError {
  constructor(readonly file: string, readonly offset: number, readonly recordsAfter: number, readonly rowsAfter: number | undefined, readonly searched: boolean) {
    const dir = path.dirname(file);
    const rows = rowsAfter === undefined ? '' : `, ${counted(rowsAfter, 'row')}`;
    const more = searched ? '' : '; more may follow, the search stopped at its limit';
    super(
      `journal ${file} is damaged at byte ${offset} (${counted(recordsAfter, 'valid record')} after it${rows}${more}): ` +
        `run "npm run journal -- inspect --dir ${dir}" to see the damage, then "npm run journal -- salvage --dir ${dir}" ` +
        'to keep every valid record and move the bad bytes aside (or move the file away to start without it)',
      'journal_corrupt',
    );
  }
}

/** "1 valid record", "3,400 rows". */
export function counted(n: number, noun: string): string {
  return `${n.toLocaleString('en-US')} ${noun}${n === 1 ? '' : 's'}`;
}

// --- CRC-32 -------------------------------------------------------------------------------
// zlib.crc32 exists from Node 20.15; earlier 20.x get the table-driven version (same polynomial).

let TABLE: Int32Array | null = null;
function crc32Table(buf: Uint8Array, value = 0): number {
  if (!TABLE) {
    TABLE = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      TABLE[n] = c;
    }
  }
  let crc = ~value;
  for (let i = 0; i < buf.length; i++) crc = TABLE[(crc ^ buf[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

/** CRC-32 of `buf`; `value` continues a CRC over earlier bytes (streaming). */
export const crc32: (buf: Uint8Array, value?: number) => number =
  typeof (zlib as { crc32?: unknown }).crc32 === 'function' ? (buf, value = 0) => zlib.crc32(buf, value) : crc32Table;

// --- Scanning -----------------------------------------------------------------------------

/** A valid record. `bytes` (header + payload) and `payload` are views valid until the next entry. */
export interface JournalRecordEntry {
  kind: 'record';
  offset: number;
  bytes: Buffer;
  payload: Buffer;
}

/** Bytes holding no valid record: from a bad record to the next valid one (or the end). */
export interface JournalDamageEntry {
  kind: 'damage';
  offset: number;
  bytes: number;
  /** What was wrong at `offset`. */
  reason: string;
  /** False when the search for valid records in these bytes stopped at its budget. */
  searched: boolean;
}

export type JournalEntry = JournalRecordEntry | JournalDamageEntry;

/** Work a scan may spend searching damaged bytes (bytes scanned + bytes checksummed): bounded for any file. */
export const defaultScanBudget = (fileBytes: number): number => 4 * fileBytes + (64 << 20);

/**
 * Every valid record and every damaged range of the file open at `fd` (readable) up to `end`,
 * in file order, each byte in exactly one entry. Never writes.
 */
export function* scanJournal(fd: number, end: number, budget = defaultScanBudget(end)): Generator<JournalEntry> {
  const r = new Reader(fd, end, budget);
  let pos = 0;
  while (pos < end) {
    let reason: string;
    if (end - pos < HEADER_BYTES) reason = 'short header';
    else {
      const h = r.view(pos, HEADER_BYTES);
      const len = h.readUInt32LE(0);
      const crc = h.readUInt32LE(4);
      if (len === 0) reason = 'zero length';
      else if (pos + HEADER_BYTES + len > end) reason = `length ${len} runs past the end of the file`;
      else {
        const bytes = r.view(pos, HEADER_BYTES + len);
        const payload = bytes.subarray(HEADER_BYTES);
        if (crc32(payload) === crc) {
          yield { kind: 'record', offset: pos, bytes, payload };
          pos += HEADER_BYTES + len;
          continue;
        }
        reason = 'CRC mismatch';
      }
    }
    const { next, searched } = resync(r, pos);
    yield { kind: 'damage', offset: pos, bytes: next - pos, reason, searched };
    pos = next;
  }
}

// Resync: where does the next valid record start after a bad one at p?
//
// Hazard 1, cost. Any offset could start a record, and a candidate's length is whatever 4 bytes
// happen to be there. Read as a little-endian length, four bytes of COPY text are at least
// 144 MiB (a tab as the fourth byte: 0x09xxxxxx) and mostly 768 MiB to 2 GiB (digits and
// punctuation), and such lengths often fit in a 1 GiB journal: a CRC per candidate would read
// gigabytes per damaged byte. So candidates are tried in tiers of maximum
// length (1 MiB, 8 MiB, 64 MiB, … up to what fits), each tier over a window of a few record
// lengths after p; a length above the tier, a zero length or a record running past the limit is
// rejected from the bytes already in hand, and so is one whose successor header (one pread)
// does not fit; only then are CRCs computed, the shorter of the two records first. Writer
// batches are megabytes, so the tiers that find them never meet the lengths text makes. A
// record found cuts the search space: records before it must end at or before it, so the
// search restarts in (p, found). Every byte scanned or checksummed counts against a budget
// (defaultScanBudget); a search that runs out reports its bytes as damaged and unsearched, and
// open() then refuses to start rather than guess.
//
// Hazard 2, false positives: random bytes taken for a record would be replayed into PostgreSQL.
// A candidate is accepted only with two independent witnesses: its own CRC-32 matches (2^-32
// by chance), AND its length lands exactly on a boundary: the end of the file, a record
// already confirmed, or a header that is itself witnessed, by its own CRC-32 (another 2^-32)
// or, when its payload is damaged too, by its chain of lengths landing exactly on one of the
// former within CHAIN_HOPS records (an exact landing is again about 2^-32 for random lengths).
// Random bytes pass both with probability about 2^-64, or 2^-32 times the chance of landing
// exactly on one of the real headers ahead (at most one in a record's length, so below 2^-40
// for records of a few hundred bytes, and a batch is kilobytes); only the few candidates that
// survive the length filters get that far. Every record of an undamaged journal is trusted on
// its CRC-32 alone, so a resync point is checked harder than the records before it. What
// cannot be witnessed is a valid record whose successor neither passes nor lands anywhere (a
// record right before a torn tail or a destroyed header, right after other damage): it stays
// among the damaged bytes, which salvage keeps in its side file.

/** Reads one journal file through a reusable buffer; counts the work resync() spends. */
class Reader {
  private buf = Buffer.allocUnsafe(READ_CHUNK);
  private bufPos = 0;
  private bufLen = 0;
  private readonly head = Buffer.allocUnsafe(HEADER_BYTES);
  private readonly scratch = Buffer.allocUnsafe(READ_CHUNK);
  spent = 0;

  constructor(private readonly fd: number, readonly end: number, readonly budget: number) {}

  get exhausted(): boolean {
    return this.spent > this.budget;
  }

  /** [pos, pos + n) (within end) as a view, valid until the next view(). */
  view(pos: number, n: number): Buffer {
    if (pos >= this.bufPos && pos + n <= this.bufPos + this.bufLen) return this.buf.subarray(pos - this.bufPos, pos - this.bufPos + n);
    if (n > this.buf.length) this.buf = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2));
    const want = Math.min(this.buf.length, this.end - pos);
    this.bufPos = pos;
    this.bufLen = readFully(this.fd, this.buf, want, pos);
    if (this.bufLen < n) throw new Error(`journal shrank while being read (${pos + this.bufLen} of ${this.end} bytes)`);
    return this.buf.subarray(0, n);
  }

  /** [length, crc] of the header at pos, leaving view()'s buffer alone. */
  header(pos: number): [number, number] {
    let h: Buffer;
    if (pos >= this.bufPos && pos + HEADER_BYTES <= this.bufPos + this.bufLen) h = this.buf.subarray(pos - this.bufPos);
    else if (readFully(this.fd, this.head, HEADER_BYTES, pos) === HEADER_BYTES) h = this.head;
    else return [0, 0];
    return [h.readUInt32LE(0), h.readUInt32LE(4)];
  }

  /** CRC-32 of [pos, pos + n), streamed, leaving view()'s buffer alone. */
  crc(pos: number, n: number): number {
    this.spent += n;
    if (pos >= this.bufPos && pos + n <= this.bufPos + this.bufLen) return crc32(this.buf.subarray(pos - this.bufPos, pos - this.bufPos + n));
    let crc = 0;
    for (let at = pos; at < pos + n; ) {
      const got = readFully(this.fd, this.scratch, Math.min(this.scratch.length, pos + n - at), at);
      if (got === 0) throw new Error(`journal shrank while being read (${at} of ${this.end} bytes)`);
      crc = crc32(this.scratch.subarray(0, got), crc);
      at += got;
    }
    return crc;
  }
}

function readFully(fd: number, buf: Buffer, n: number, pos: number): number {
  let got = 0;
  while (got < n) {
    const k = fs.readSync(fd, buf, got, n - got, pos + got);
    if (k === 0) break;
    got += k;
  }
  return got;
}

/** The offset of the first valid record after the bad one at p (the end if none), per the rules above. */
function resync(r: Reader, p: number): { next: number; searched: boolean } {
  if (r.exhausted) return { next: r.end, searched: false };
  let limit = r.end; // exclusive: the end of the file, or a record already confirmed
  // Most damage hits a payload (it is nearly all of the bytes): the bad record's own length then
  // still points at its successor. Confirm that one first; the search below covers the rest.
  if (p + HEADER_BYTES <= r.end) {
    const [len] = r.header(p);
    const s = p + HEADER_BYTES + len;
    if (len > 0 && s + HEADER_BYTES <= r.end) {
      const [len2, crc2] = r.header(s);
      if (len2 > 0 && s + HEADER_BYTES + len2 <= r.end && confirm(r, s, len2, crc2, r.end, Infinity)) limit = s;
    }
  }
  for (let cap = RESYNC_FIRST_CAP; ; cap *= 8) {
    if (r.exhausted) return { next: limit, searched: false };
    const longest = limit - p - 1 - HEADER_BYTES; // a record at q ≥ p + 1 must end by limit
    if (longest < 1) return { next: limit, searched: true };
    const c = Math.min(cap, longest);
    const last = Math.min(limit - HEADER_BYTES - 1, p + 4 * (HEADER_BYTES + c)); // window: a few records
    const q = firstConfirmed(r, p + 1, last, limit, c);
    if (q >= 0) {
      limit = q;
      cap = RESYNC_FIRST_CAP / 8; // records before q: search (p, q) from the first tier again
    } else if (c === longest) {
      return { next: limit, searched: !r.exhausted };
    }
  }
}

/** The first q in [from, last] starting a confirmed record of length ≤ c ending by limit; -1 if none. */
function firstConfirmed(r: Reader, from: number, last: number, limit: number, c: number): number {
  for (let q = from; q <= last; ) {
    const n = Math.min(READ_CHUNK - HEADER_BYTES, last - q + 1); // candidates starting in this chunk
    const chunk = r.view(q, n + HEADER_BYTES - 1); // last + 8 ≤ limit - 1 < end
    r.spent += n;
    for (let i = 0; i < n; i++) {
      const len = (chunk[i] | (chunk[i + 1] << 8) | (chunk[i + 2] << 16) | (chunk[i + 3] << 24)) >>> 0;
      if (len === 0 || len > c || q + i + HEADER_BYTES + len > limit) continue;
      if (confirm(r, q + i, len, chunk.readUInt32LE(i + 4), limit, c)) return q + i;
      if (r.exhausted) return -1;
    }
    q += n;
  }
  return -1;
}

/** The record (q, len, crc) passes its CRC and its successor witnesses it (see above). */
function confirm(r: Reader, q: number, len: number, crc: number, limit: number, c: number): boolean {
  const n = q + HEADER_BYTES + len;
  const own = (): boolean => r.crc(q + HEADER_BYTES, len) === crc;
  if (n === limit) return own();
  if (n + HEADER_BYTES > limit) return false;
  const [len2, crc2] = r.header(n);
  if (len2 === 0 || len2 > c || n + HEADER_BYTES + len2 > limit) return false;
  const next = (): boolean => r.crc(n + HEADER_BYTES, len2) === crc2;
  // The shorter CRC first; a successor with a damaged payload may still witness by its lengths.
  if (len2 < len) return next() ? own() : landsOn(r, n, limit) && own();
  return own() && (next() || landsOn(r, n, limit));
}

/** Following lengths only (no CRCs) from the header at n lands exactly on limit within CHAIN_HOPS records. */
function landsOn(r: Reader, n: number, limit: number): boolean {
  for (let hop = 0; hop < CHAIN_HOPS && n + HEADER_BYTES <= limit; hop++) {
    const [len] = r.header(n);
    r.spent += HEADER_BYTES;
    if (len === 0) return false;
    n += HEADER_BYTES + len;
    if (n === limit) return true;
  }
  return false;
}

// --- Journal ------------------------------------------------------------------------------

export interface JournalOptions {
  /** Bytes on disk (headers included) the journal may hold. */
  maxBytes: number;
  /** flush() and truncate() reach the disk (fdatasync/fsync). Off only for tests and benches. */
  fsync: boolean;
  /** Told when open() or replay() drops a torn tail. */
  log?: { warn(msg: string, f?: object): void };
  /** Rows a record holds, for JournalCorruptError's message (it may throw: then rows go unnamed). */
  rowsOf?: (record: Uint8Array) => number;
  /** Work the search past a bad record may spend (defaultScanBudget of the file size). */
  scanBudget?: number;
}

export interface ReplayResult {
  /** Good records found. */
  records: number;
  /** Bytes of a torn tail removed from the file. */
  droppedBytes: number;
}

export class Journal {
  /** The result of the last full scan: open() runs one (so new appends never follow a torn tail), replay() another. */
  lastReplay: ReplayResult = { records: 0, droppedBytes: 0 };
  readonly file: string;
  private fd: number;
  private size = 0;
  private count = 0;
  private readonly header = Buffer.alloc(HEADER_BYTES);

  private constructor(file: string, fd: number, private readonly opts: JournalOptions) {
    this.file = file;
    this.fd = fd;
  }

  /**
   * Opens (creating dir and file) and cuts a torn tail left by a crash. Throws
   * JournalCorruptError, leaving the file untouched, when valid records follow a bad one.
   */
  static async open(dir: string, opts: JournalOptions): Promise<Journal> {
    if (!Number.isSafeInteger(opts.maxBytes) || opts.maxBytes < HEADER_BYTES) {
      throw new RangeError(`Journal option maxBytes must be an integer ≥ ${HEADER_BYTES}, got ${String(opts.maxBytes)}`);
    }
    await fs.promises.mkdir(dir, { recursive: true });
    const file = path.resolve(dir, JOURNAL_FILE);
    const created = !fs.existsSync(file);
    // 'a': every write lands at the end of the file whatever the position (O_APPEND).
    const fd = fs.openSync(file, 'a');
    if (created && opts.fsync) fsyncDir(dir); // the new directory entry must survive a crash too
    const j = new Journal(file, fd, opts);
    try {
      for (const _ of j.walk()); // count records and cut a torn tail before anything is appended
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
    return j;
  }

  get bytes(): number {
    return this.size;
  }

  get records(): number {
    return this.count;
  }

  /** Appends one record (not yet durable: call flush()). Throws JournalFullError past maxBytes. */
  append(record: Uint8Array): void {
    if (record.length === 0) throw new RangeError('journal records must not be empty: an all-zero header is how an unwritten tail reads');
    if (record.length > 0xffffffff) throw new RangeError(`journal record of ${record.length} bytes exceeds the u32 length field`);
    const total = HEADER_BYTES + record.length;
    if (this.size + total > this.opts.maxBytes) throw new JournalFullError(this.size, this.opts.maxBytes);
    this.header.writeUInt32LE(record.length, 0);
    this.header.writeUInt32LE(crc32(record), 4);
    // One writev, no copy of the payload. A short or failed write would leave a torn record
    // that later appends would follow (and replay would stop before): cut it off at once.
    let written = 0;
    try {
      written = fs.writevSync(this.fd, [this.header, record]);
    } finally {
      if (written !== total) fs.ftruncateSync(this.fd, this.size);
    }
    this.size += total;
    this.count++;
  }

  /** Makes every appended record durable (fdatasync) when `fsync` is on. */
  flush(): void {
    if (this.opts.fsync) fs.fdatasyncSync(this.fd);
  }

  /**
   * Yields every good record, oldest first (copies: safe to keep). A torn tail is truncated
   * (recorded in `lastReplay`); damage with valid records after it throws JournalCorruptError
   * once the records before it were yielded. Don't append while iterating.
   */
  *replay(): Generator<Uint8Array> {
    for (const payload of this.walk()) yield Uint8Array.prototype.slice.call(payload);
  }

  /** replay() without copies: payloads are views valid until the next one. */
  private *walk(): Generator<Buffer> {
    const end = fs.fstatSync(this.fd).size;
    const rfd = fs.openSync(this.file, 'r'); // this.fd is append-only (write-only)
    let records = 0;
    let damage: JournalDamageEntry | undefined;
    let after = 0;
    let rowsAfter: number | undefined = 0;
    let searched = true;
    try {
      for (const e of scanJournal(rfd, end, this.opts.scanBudget)) {
        if (e.kind === 'damage') {
          damage ??= e;
          searched &&= e.searched;
        } else if (damage === undefined) {
          records++;
          yield e.payload;
        } else {
          after++;
          rowsAfter = addRows(rowsAfter, this.opts.rowsOf, e.payload);
        }
      }
    } finally {
      // Also runs when the consumer stops early (return() at a yield): then nothing is cut and
      // the counts are left as they were.
      fs.closeSync(rfd);
    }
    if (damage === undefined) {
      this.size = end;
      this.count = records;
      this.lastReplay = { records, droppedBytes: 0 };
      return;
    }
    if (after > 0 || !searched) {
      throw new JournalCorruptError(this.file, damage.offset, after, this.opts.rowsOf ? rowsAfter : undefined, searched);
    }
    // Nothing valid after the bad record: a torn tail (or a zero-filled one), whatever its shape.
    const droppedBytes = end - damage.offset;
    fs.ftruncateSync(this.fd, damage.offset);
    if (this.opts.fsync) fs.fsyncSync(this.fd);
    this.opts.log?.warn('journal: dropped a torn tail (crash during append)', {
      file: this.file, records, offset: damage.offset, droppedBytes, reason: damage.reason,
    });
    this.size = damage.offset;
    this.count = records;
    this.lastReplay = { records, droppedBytes };
  }

  /** Empties the journal; call only after the COMMIT of its rows succeeded. */
  truncate(): void {
    fs.ftruncateSync(this.fd, 0);
    if (this.opts.fsync) fs.fsyncSync(this.fd);
    this.size = 0;
    this.count = 0;
  }

  /** flush() and close the file. The journal is unusable afterwards; open() it again. */
  close(): void {
    if (this.fd < 0) return;
    this.flush();
    fs.closeSync(this.fd);
    this.fd = -1;
  }
}

function addRows(total: number | undefined, rowsOf: ((r: Uint8Array) => number) | undefined, payload: Uint8Array): number | undefined {
  if (total === undefined || rowsOf === undefined) return total;
  try {
    return total + rowsOf(payload);
  } catch {
    return undefined; // not a record rowsOf understands: the message names records only
  }
}

export function fsyncDir(dir: string): void {
  const dfd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}
