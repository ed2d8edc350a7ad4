// Append-only on-disk journal of rows PostgreSQL has not committed yet (one writer, one file).
//
// File `<dir>/journal.log`, a sequence of records, integers little-endian:
//
//   ┌────────────┬────────────┬──────────────────┐
//   │ u32 length │ u32 crc32  │ payload (length) │  … next record
//   └────────────┴────────────┴──────────────────┘
//     crc32 = CRC-32 (IEEE, zlib's) of the payload only.
//
// Only one writer ever appends, so a bad record can only be the tail a crash cut short: replay
// (and open) stop at the first short or mismatching record and truncate the file there.
// Life cycle in the writer: append() rows while PostgreSQL is down → flush() (fdatasync) before
// acknowledging → replay() into COPY → truncate() only after COMMIT succeeded.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { TickplantError } from '../errors.js';

const HEADER_BYTES = 8;
const FILE_NAME = 'journal.log';
const READ_CHUNK = 1 << 20;

/** append() would take the journal past maxBytes: stop accepting rows (backpressure). */
export class JournalFullError extends TickplantError {
  constructor(readonly bytes: number, readonly maxBytes: number) {
    super('journal_full', `journal full: ${bytes} of ${maxBytes} bytes used; raise the journal's maxBytes or restore PostgreSQL`);
  }
}

// --- CRC-32 -------------------------------------------------------------------------------
// zlib.crc32 exists from Node 20.15; earlier 20.x get the table-driven version (same polynomial).

let TABLE: Int32Array | null = null;
function crc32Table(buf: Uint8Array): number {
  if (!TABLE) {
    TABLE = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      TABLE[n] = c;
    }
  }
  let crc = -1;
  for (let i = 0; i < buf.length; i++) crc = TABLE[(crc ^ buf[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

export const crc32: (buf: Uint8Array) => number =
  typeof (zlib as { crc32?: unknown }).crc32 === 'function' ? (buf) => zlib.crc32(buf) : crc32Table;

// --- Journal ------------------------------------------------------------------------------

export interface JournalOptions {
  /** Bytes on disk (headers included) the journal may hold. */
  maxBytes: number;
  /** flush() and truncate() reach the disk (fdatasync/fsync). Off only for tests and benches. */
  fsync: boolean;
  /** Told when open() or replay() drops a torn tail. */
  log?: { warn(msg: string, f?: object): void };
}

export interface ReplayResult {
  /** Good records found. */
  records: number;
  /** Bytes of a torn/corrupt tail removed from the file. */
  droppedBytes: number;
}

export class Journal {
  /** The result of the last scan: open() runs one (so new appends never follow a torn tail), replay() another. */
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

  /** Opens (creating dir and file) and repairs a torn tail left by a crash. */
  static async open(dir: string, opts: JournalOptions): Promise<Journal> {
    if (!Number.isSafeInteger(opts.maxBytes) || opts.maxBytes < HEADER_BYTES) {
      throw new RangeError(`Journal option maxBytes must be an integer ≥ ${HEADER_BYTES}, got ${String(opts.maxBytes)}`);
    }
    await fs.promises.mkdir(dir, { recursive: true });
    const file = path.join(dir, FILE_NAME);
    const created = !fs.existsSync(file);
    // 'a': every write lands at the end of the file whatever the position (O_APPEND).
    const fd = fs.openSync(file, 'a');
    if (created && opts.fsync) fsyncDir(dir); // the new directory entry must survive a crash too
    const j = new Journal(file, fd, opts);
    for (const _ of j.replay()); // count records and cut a torn tail before anything is appended
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
   * Yields every good record, oldest first (copies: safe to keep). At the first short or
   * corrupt record it stops, truncates the file there and records the loss in `lastReplay`.
   * Don't append while iterating.
   */
  *replay(): Generator<Uint8Array> {
    const end = fs.fstatSync(this.fd).size;
    const rfd = fs.openSync(this.file, 'r');
    let buf = Buffer.allocUnsafe(READ_CHUNK);
    let bufPos = 0; // file offset of buf[0]
    let bufLen = 0;
    let pos = 0; // file offset of the next record
    let records = 0;
    let torn = false; // set only at a bad record, not when the consumer stops early (return())
    /** Ensures buf holds [pos, pos + n); false at end of file. */
    const fill = (n: number): boolean => {
      if (pos + n > end) return false;
      if (pos + n <= bufPos + bufLen) return true;
      const keep = bufPos + bufLen - pos; // unread bytes already in buf
      if (n > buf.length) {
        const bigger = Buffer.allocUnsafe(Math.max(n, buf.length * 2));
        buf.copy(bigger, 0, pos - bufPos, pos - bufPos + keep);
        buf = bigger;
      } else {
        buf.copyWithin(0, pos - bufPos, pos - bufPos + keep);
      }
      bufPos = pos;
      bufLen = keep;
      while (bufLen < n) {
        const got = fs.readSync(rfd, buf, bufLen, Math.min(buf.length - bufLen, end - (bufPos + bufLen)), bufPos + bufLen);
        if (got === 0) return false;
        bufLen += got;
      }
      return true;
    };
    try {
      while (pos < end) {
        if (!fill(HEADER_BYTES)) {
          torn = true; // short header
          break;
        }
        const at = pos - bufPos;
        const len = buf.readUInt32LE(at);
        const crc = buf.readUInt32LE(at + 4);
        // A length past maxBytes can only be a torn header (append() never writes one).
        if (len > this.opts.maxBytes || !fill(HEADER_BYTES + len)) {
          torn = true;
          break;
        }
        const start = pos - bufPos + HEADER_BYTES;
        const payload = buf.subarray(start, start + len);
        if (crc32(payload) !== crc) {
          torn = true;
          break;
        }
        pos += HEADER_BYTES + len;
        records++;
        yield Uint8Array.prototype.slice.call(payload);
      }
    } finally {
      fs.closeSync(rfd);
      // Also runs when the consumer stops early (return() at a yield): then nothing is cut and
      // the counts are left as they were.
      if (torn) {
        const droppedBytes = end - pos;
        fs.ftruncateSync(this.fd, pos);
        if (this.opts.fsync) fs.fsyncSync(this.fd);
        this.opts.log?.warn('journal: dropped a torn tail (crash during append)', { file: this.file, records, droppedBytes });
        this.size = pos;
        this.count = records;
        this.lastReplay = { records, droppedBytes };
      } else if (pos >= end) {
        this.size = end;
        this.count = records;
        this.lastReplay = { records, droppedBytes: 0 };
      }
    }
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

function fsyncDir(dir: string): void {
  const dfd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}
