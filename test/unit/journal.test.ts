// Journal: round trip, maxBytes backpressure, truncate after commit, torn tails, reopen; damage
// with valid records after it (open refuses), the search past it, and inspect/salvage.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeJournalRecord, journalRecordRows } from '../../src/actors/writer/journal-record.js';
import { inspectJournal, main, salvageJournal } from '../../src/cli/journal.js';
import { StartupError } from '../../src/errors.js';
import { lockDataDir } from '../../src/store/data-dir-lock.js';
import { crc32, Journal, JournalCorruptError, JournalFullError, type JournalOptions, scanJournal } from '../../src/store/journal.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const rec = (s: string) => enc.encode(s);
const all = (j: Journal) => [...j.replay()].map((r) => dec.decode(r));

let dir: string;
let open: Journal[] = [];
const openJournal = async (maxBytes = 1 << 20, fsync = false) => {
  const j = await Journal.open(dir, { maxBytes, fsync });
  open.push(j);
  return j;
};

beforeEach(() => {
  dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tickplant-journal-')), 'nested', 'journal');
  open = [];
});
afterEach(() => {
  for (const j of open) j.close();
  fs.rmSync(path.dirname(path.dirname(dir)), { recursive: true, force: true });
});

describe('Journal', () => {
  it('crc32 is the IEEE CRC-32', () => {
    expect(crc32(enc.encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it('round-trips records in order (creating the directory), including one-byte and large ones', async () => {
    const j = await openJournal(8 << 20, true);
    const big = new Uint8Array(3 << 20).map((_, i) => i & 0xff); // larger than the 1 MiB read chunk
    j.append(rec('a'));
    j.append(big);
    j.append(rec('after big'));
    j.flush();
    expect(j.records).toBe(3);
    expect(j.bytes).toBe(3 * 8 + 1 + big.length + 9);
    expect(fs.statSync(j.file).size).toBe(j.bytes);
    const got = [...j.replay()];
    expect(got.map((r) => r.length)).toEqual([1, big.length, 9]);
    expect(Buffer.from(got[1]).equals(Buffer.from(big))).toBe(true);
    expect(dec.decode(got[2])).toBe('after big');
    expect(j.lastReplay).toEqual({ records: 3, droppedBytes: 0 });
  });

  it('refuses an empty record: its all-zero header would read like an unwritten tail', async () => {
    const j = await openJournal();
    expect(() => j.append(new Uint8Array(0))).toThrow(RangeError);
    expect(j.records).toBe(0);
    expect(fs.statSync(j.file).size).toBe(0);
  });

  it('header layout is [u32 length LE][u32 crc32 LE][payload]', async () => {
    const j = await openJournal();
    j.append(rec('xyz'));
    const b = fs.readFileSync(j.file);
    expect(b.readUInt32LE(0)).toBe(3);
    expect(b.readUInt32LE(4)).toBe(crc32(rec('xyz')));
    expect(b.subarray(8).toString()).toBe('xyz');
  });

  it('throws JournalFullError (with a code) when maxBytes would be exceeded, and stays usable', async () => {
    const j = await openJournal(8 + 10 + 8 + 10); // room for exactly two 10-byte records
    j.append(rec('0123456789'));
    j.append(rec('0123456789'));
    let err: unknown;
    try {
      j.append(rec('x'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(JournalFullError);
    expect((err as JournalFullError).code).toBe('journal_full');
    expect((err as Error).name).toBe('JournalFullError');
    expect((err as Error).message).toMatch(/maxBytes/);
    expect(j.records).toBe(2);
    expect(all(j)).toEqual(['0123456789', '0123456789']);
    j.truncate();
    j.append(rec('x')); // room again once the rows were committed
    expect(all(j)).toEqual(['x']);
  });

  it('truncate() empties the file; appends continue from zero', async () => {
    const j = await openJournal(1 << 20, true);
    for (let i = 0; i < 10; i++) j.append(rec(`row ${i}`));
    j.flush();
    j.truncate();
    expect(j.bytes).toBe(0);
    expect(j.records).toBe(0);
    expect(fs.statSync(j.file).size).toBe(0);
    expect(all(j)).toEqual([]);
    j.append(rec('next'));
    expect(all(j)).toEqual(['next']);
  });

  it('torn tail (bytes chopped off the end): replay yields the good records and truncates there', async () => {
    const j = await openJournal();
    j.append(rec('one'));
    j.append(rec('two'));
    j.append(rec('three'));
    const good = j.bytes - (8 + 5);
    fs.truncateSync(j.file, j.bytes - 2); // a crash mid-append of "three"
    expect(all(j)).toEqual(['one', 'two']);
    expect(j.lastReplay).toEqual({ records: 2, droppedBytes: 8 + 5 - 2 });
    expect(fs.statSync(j.file).size).toBe(good);
    expect(j.bytes).toBe(good);
    expect(j.records).toBe(2);
    j.append(rec('four')); // lands right after "two", not after garbage
    expect(all(j)).toEqual(['one', 'two', 'four']);
  });

  it('torn header (fewer than 8 bytes of the last record)', async () => {
    const j = await openJournal();
    j.append(rec('one'));
    j.append(rec('two'));
    fs.truncateSync(j.file, 8 + 3 + 5); // "one", then 5 of the 8 header bytes of "two"
    expect(all(j)).toEqual(['one']);
    expect(j.lastReplay).toEqual({ records: 1, droppedBytes: 5 });
  });

  it('a flipped byte in the last record fails its CRC: replay stops before it and truncates', async () => {
    const j = await openJournal();
    j.append(rec('one'));
    j.append(rec('two'));
    j.append(rec('three'));
    const size = j.bytes;
    const fd = fs.openSync(j.file, 'r+');
    fs.writeSync(fd, Buffer.from([0x58]), 0, 1, size - 1); // 'e' → 'X'
    fs.closeSync(fd);
    expect(all(j)).toEqual(['one', 'two']);
    expect(j.lastReplay).toEqual({ records: 2, droppedBytes: 8 + 5 });
    expect(fs.statSync(j.file).size).toBe(size - 13);
  });

  it('a garbage length in the last header is a torn tail, not a huge allocation', async () => {
    const j = await openJournal();
    j.append(rec('one'));
    fs.appendFileSync(j.file, Buffer.from([0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 1, 2]));
    expect(all(j)).toEqual(['one']);
    expect(j.lastReplay.droppedBytes).toBe(10);
  });

  it('reopen after close continues appending; open() repairs a torn tail before any append', async () => {
    const a = await openJournal();
    a.append(rec('one'));
    a.append(rec('two'));
    a.close();

    const b = await openJournal();
    expect(b.records).toBe(2);
    expect(b.bytes).toBe(2 * (8 + 3));
    b.append(rec('three'));
    b.close();
    fs.truncateSync(path.join(dir, 'journal.log'), 2 * (8 + 3) + 8 + 1); // crash mid-append of "three"

    const c = await openJournal();
    expect(c.lastReplay).toEqual({ records: 2, droppedBytes: 9 });
    expect(c.records).toBe(2);
    c.append(rec('four'));
    expect(all(c)).toEqual(['one', 'two', 'four']);
  });

  it('stopping a replay early neither truncates nor changes the counts', async () => {
    const j = await openJournal();
    for (const s of ['a', 'b', 'c']) j.append(rec(s));
    for (const r of j.replay()) {
      expect(dec.decode(r)).toBe('a');
      break;
    }
    expect(j.records).toBe(3);
    expect(fs.statSync(j.file).size).toBe(j.bytes);
    expect(all(j)).toEqual(['a', 'b', 'c']);
  });

  it('bad maxBytes throws RangeError naming the option', async () => {
    await expect(Journal.open(dir, { maxBytes: 0, fsync: false })).rejects.toThrow(/maxBytes/);
  });
});

// --- Damage ---------------------------------------------------------------------------------

/** Distinct records of varying sizes. */
const payloads = (n: number) => Array.from({ length: n }, (_, i) => rec(`record ${i} ${'abcdefghij'.repeat(3 + (i % 4))}`));

/** Writes `records` through a Journal, closes it; returns the file and each record's offset (and the end). */
async function journalOf(records: Uint8Array[]): Promise<{ file: string; offsets: number[] }> {
  const j = await Journal.open(dir, { maxBytes: 1 << 30, fsync: false });
  const offsets: number[] = [];
  for (const r of records) {
    offsets.push(j.bytes);
    j.append(r);
  }
  offsets.push(j.bytes);
  j.close();
  return { file: j.file, offsets };
}

function patch(file: string, offset: number, bytes: Uint8Array): void {
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, bytes, 0, bytes.length, offset);
  fs.closeSync(fd);
}

function flip(file: string, offset: number): void {
  const b = fs.readFileSync(file);
  patch(file, offset, Uint8Array.of(b[offset] ^ 0x5a));
}

/** Deterministic bytes that look like nothing in particular (xorshift32). */
function noise(n: number, seed = 0x9e3779b9): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** scanJournal's entries as [kind, offset, bytes], checked to cover the file exactly once, in order. */
function scan(file: string): [string, number, number][] {
  const fd = fs.openSync(file, 'r');
  try {
    const end = fs.fstatSync(fd).size;
    const out: [string, number, number][] = [];
    let pos = 0;
    for (const e of scanJournal(fd, end)) {
      const bytes = e.kind === 'record' ? e.bytes.length : e.bytes;
      expect(e.offset).toBe(pos);
      if (e.kind === 'damage') expect(e.searched).toBe(true);
      out.push([e.kind, e.offset, bytes]);
      pos += bytes;
    }
    expect(pos).toBe(end);
    return out;
  } finally {
    fs.closeSync(fd);
  }
}

async function openError(opts: Partial<JournalOptions> = {}): Promise<JournalCorruptError> {
  const err = await Journal.open(dir, { maxBytes: 1 << 30, fsync: false, ...opts }).then(
    (j) => {
      j.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(JournalCorruptError);
  return err as JournalCorruptError;
}

const warnings = () => {
  const seen: [string, object | undefined][] = [];
  return { seen, log: { warn: (m: string, f?: object) => void seen.push([m, f]) } };
};

describe('Journal: a torn tail is cut with one warning', () => {
  // Three records of 8 + 20 bytes: 84 bytes; each shape leaves `kept` of them.
  const three = [rec('A'.repeat(20)), rec('B'.repeat(20)), rec('C'.repeat(20))];
  const header = (len: number, crc: number) => {
    const h = Buffer.alloc(8);
    h.writeUInt32LE(len, 0);
    h.writeUInt32LE(crc, 4);
    return h;
  };
  const shapes: [string, (file: string) => void, number, number][] = [
    ['a short header (5 of 8 bytes)', (f) => fs.appendFileSync(f, header(20, 7).subarray(0, 5)), 3, 5],
    ['a payload cut short (its length runs past the end)', (f) => fs.truncateSync(f, 84 - 2), 2, 26],
    ['a garbage length', (f) => fs.appendFileSync(f, Buffer.from([0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 1, 2])), 3, 10],
    ['a final record whose CRC fails, nothing after it', (f) => flip(f, 83), 2, 28],
    ['a header written, its payload left zero', (f) => fs.appendFileSync(f, Buffer.concat([header(100, crc32(rec('x'.repeat(100)))), Buffer.alloc(100)])), 3, 108],
    ['an extended but unwritten tail (zeros)', (f) => fs.appendFileSync(f, Buffer.alloc(4096)), 3, 4096],
    ['random bytes after the last record', (f) => fs.appendFileSync(f, noise(3000)), 3, 3000],
  ];
  it.each(shapes)('%s', async (_name, tear, kept, dropped) => {
    const { file, offsets } = await journalOf(three);
    tear(file);
    const w = warnings();
    const j = await Journal.open(dir, { maxBytes: 1 << 20, fsync: false, log: w.log });
    open.push(j);
    expect(w.seen).toHaveLength(1);
    expect(w.seen[0][0]).toMatch(/torn tail/);
    expect(w.seen[0][1]).toMatchObject({ file, records: kept, offset: offsets[kept], droppedBytes: dropped });
    expect(j.lastReplay).toEqual({ records: kept, droppedBytes: dropped });
    expect(j.records).toBe(kept);
    expect(fs.statSync(file).size).toBe(offsets[kept]);
    j.append(rec('next')); // lands right after the last good record
    expect(all(j)).toEqual([...three.slice(0, kept).map((r) => dec.decode(r)), 'next']);
  });
});

describe('Journal: damage with valid records after it stops open()', () => {
  it('a flipped byte in a middle record: JournalCorruptError names the file, the offset and what follows; the file is unchanged', async () => {
    const { file, offsets } = await journalOf(payloads(10));
    flip(file, offsets[3] + 8 + 5); // inside record 3's payload
    const before = fs.readFileSync(file);
    const w = warnings();
    const e = await openError({ log: w.log });
    expect(e).toBeInstanceOf(StartupError);
    expect(e.code).toBe('journal_corrupt');
    expect(e.name).toBe('JournalCorruptError');
    expect(e.message).not.toMatch(/\n/);
    expect(e.message).toContain(`journal ${file} is damaged at byte ${offsets[3]} (6 valid records after it)`);
    expect(e.message).toContain(`"npm run journal -- inspect --dir ${dir}"`);
    expect(e.message).toContain(`"npm run journal -- salvage --dir ${dir}"`);
    expect(e.message).toMatch(/move the file away/);
    expect(e).toMatchObject({ file, offset: offsets[3], recordsAfter: 6, searched: true });
    expect(w.seen).toEqual([]); // nothing dropped, so nothing to warn about
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    expect(scan(file)).toEqual([
      ...[0, 1, 2].map((i) => ['record', offsets[i], offsets[i + 1] - offsets[i]]),
      ['damage', offsets[3], offsets[4] - offsets[3]],
      ...[4, 5, 6, 7, 8, 9].map((i) => ['record', offsets[i], offsets[i + 1] - offsets[i]]),
    ]);
  });

  it('names the rows after the damage when told how to count them (writer batches)', async () => {
    const batches = [1, 2, 3, 4].map((k) => batchRecord(Array.from({ length: 100 * k }, (_, i) => ['US.AAPL', k * 1000 + i])));
    const { file, offsets } = await journalOf(batches);
    flip(file, offsets[1] + 40);
    const e = await openError({ rowsOf: journalRecordRows });
    expect(e.message).toContain(`damaged at byte ${offsets[1]} (2 valid records after it, 700 rows)`);
    expect(e.rowsAfter).toBe(700);
  });

  it('a damaged length that runs past the end, in a middle record, is damage, not a torn tail', async () => {
    const { file, offsets } = await journalOf(payloads(10));
    patch(file, offsets[3] + 3, Uint8Array.of(0x40)); // length's high byte: 1 GiB more than the file
    const before = fs.readFileSync(file);
    const e = await openError();
    expect(e.message).toContain(`damaged at byte ${offsets[3]} (6 valid records after it)`);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
  });

  it('a zeroed block across several records, headers included: the damage runs to the first record after it', async () => {
    const { file, offsets } = await journalOf(payloads(10));
    const from = offsets[2] + 20;
    patch(file, from, new Uint8Array(offsets[5] + 12 - from)); // records 2 to 5 hit, 3 and 4 whole
    const e = await openError();
    expect(e.message).toContain(`damaged at byte ${offsets[2]} (4 valid records after it)`);
    expect(scan(file).filter(([kind]) => kind === 'damage')).toEqual([['damage', offsets[2], offsets[6] - offsets[2]]]);
  });

  it('random bytes over several records yield no phantom records', async () => {
    const { file, offsets } = await journalOf(payloads(12));
    patch(file, offsets[3], noise(offsets[7] - offsets[3], 12345));
    expect(scan(file)).toEqual([
      ...[0, 1, 2].map((i) => ['record', offsets[i], offsets[i + 1] - offsets[i]]),
      ['damage', offsets[3], offsets[7] - offsets[3]],
      ...[7, 8, 9, 10, 11].map((i) => ['record', offsets[i], offsets[i + 1] - offsets[i]]),
    ]);
    expect((await openError()).recordsAfter).toBe(5);
  });

  it('a record between two damaged payloads is kept: its successor still lands on the next good record', async () => {
    const { file, offsets } = await journalOf(payloads(10));
    flip(file, offsets[3] + 12);
    flip(file, offsets[5] + 12);
    expect(scan(file).map(([kind, offset]) => [kind, offset])).toEqual([
      ...[0, 1, 2].map((i) => ['record', offsets[i]]),
      ['damage', offsets[3]],
      ['record', offsets[4]],
      ['damage', offsets[5]],
      ...[6, 7, 8, 9].map((i) => ['record', offsets[i]]),
    ]);
    expect((await openError()).recordsAfter).toBe(5);
  });

  it('the first record damaged, the rest valid', async () => {
    const { file, offsets } = await journalOf(payloads(4));
    flip(file, 4); // record 0's CRC field
    const e = await openError();
    expect(e.message).toContain(`damaged at byte 0 (3 valid records after it)`);
  });

  it('replay() meeting damage during a run: yields the records before it, then throws; nothing is truncated', async () => {
    const j = await openJournal();
    const offsets: number[] = [];
    for (const p of payloads(6)) {
      offsets.push(j.bytes);
      j.append(p);
    }
    const size = j.bytes;
    flip(j.file, offsets[2] + 11); // after open, as a failing disk would
    const got: string[] = [];
    expect(() => {
      for (const r of j.replay()) got.push(dec.decode(r));
    }).toThrow(JournalCorruptError);
    expect(got).toEqual(payloads(2).map((p) => dec.decode(p)));
    expect(fs.statSync(j.file).size).toBe(size);
    expect(j.records).toBe(6);
  });
});

// --- inspect and salvage ------------------------------------------------------------------------

/** A writer batch record of COPY rows [symbol, seq] (the columns tickplant writes). */
function batchRecord(rows: [string, number][]): Uint8Array {
  const line = ([symbol, seq]: [string, number]) =>
    [new Date(1_700_000_000_000 + seq).toISOString(), symbol, ...Array<string>(10).fill('1.5'), '[[1,2]]', '[[3,4]]', String(seq), '1700000000000'].join('\t') + '\n';
  const last = new Map<string, number>();
  for (const [s, q] of rows) last.set(s, q);
  return encodeJournalRecord({
    payload: Buffer.from(rows.map(line).join('')),
    rows: rows.length,
    progress: [...last].map(([symbol, lastSeq]) => ({ symbol, epoch: 1_700_000_000_000, lastSeq, lastTimeMs: 1_700_000_000_000 + lastSeq })),
    newestFeedTs: 1_700_000_000_000,
  });
}

const twoSymbols = (from: number, n: number) =>
  batchRecord(Array.from({ length: 2 * n }, (_, i): [string, number] => [i % 2 ? 'US.MSFT' : 'US.AAPL', from + (i >> 1)]));

describe('inspect', () => {
  it('a clean journal of writer batches: a line per record (offset, bytes, rows, symbols, seqs), then "clean"', async () => {
    const { offsets } = await journalOf([twoSymbols(1, 10), twoSymbols(11, 5)]);
    const lines: string[] = [];
    const r = inspectJournal(dir, (l) => lines.push(l));
    expect(r).toMatchObject({ records: 2, rows: 30, damaged: [], recordsAfterDamage: 0, bytes: offsets[2] });
    expect(lines).toEqual([
      `journal ${path.join(dir, 'journal.log')}: ${offsets[2].toLocaleString('en-US')} bytes`,
      `${'@0'.padStart(12)}  record  ${offsets[1].toLocaleString('en-US')} bytes: 20 rows, 2 symbols: US.AAPL seq 1-10, US.MSFT seq 1-10`,
      `${`@${offsets[1]}`.padStart(12)}  record  ${(offsets[2] - offsets[1]).toLocaleString('en-US')} bytes: 10 rows, 2 symbols: US.AAPL seq 11-15, US.MSFT seq 11-15`,
      'clean: 2 valid records (30 rows)',
    ]);
  });

  it('a damaged journal: a DAMAGED line for the bad bytes and a summary naming what follows them', async () => {
    const { offsets, file } = await journalOf([twoSymbols(1, 10), twoSymbols(11, 10), rec('not a batch'), twoSymbols(21, 10)]);
    flip(file, offsets[1] + 100);
    const lines: string[] = [];
    const r = inspectJournal(dir, (l) => lines.push(l));
    expect(r.damaged).toEqual([{ offset: offsets[1], bytes: offsets[2] - offsets[1], reason: 'CRC mismatch', searched: true }]);
    expect(r).toMatchObject({ records: 3, rows: 40, recordsAfterDamage: 2 });
    expect(lines[2]).toBe(`${`@${offsets[1]}`.padStart(12)}  DAMAGED ${(offsets[2] - offsets[1]).toLocaleString('en-US')} bytes: CRC mismatch`);
    expect(lines[3]).toMatch(/record {2}19 bytes: not a writer batch$/);
    expect(lines.at(-1)).toBe(`damaged: 1 range (${(offsets[2] - offsets[1]).toLocaleString('en-US')} bytes), the first at byte ${offsets[1]} with 2 valid records after it; ` +
      `3 valid records (40 rows) in all: "npm run journal -- salvage --dir ${dir}" keeps every valid record and moves the damaged bytes aside`);
  });
});

describe('salvage', () => {
  it('keeps every valid record in order and moves exactly the bad bytes (middle damage and torn tail) to a side file', async () => {
    const records = payloads(12);
    const { file, offsets } = await journalOf(records);
    flip(file, offsets[2] + 9);
    const zeros = offsets[6] + 3; // records 6 and 7 lose their headers
    patch(file, zeros, new Uint8Array(offsets[7] + 10 - zeros));
    fs.truncateSync(file, offsets[12] - 4); // and the last append was torn
    const original = fs.readFileSync(file);

    const now = new Date('2024-05-06T07:08:09.010Z');
    const r = salvageJournal(dir, now);
    const kept = [0, 1, 3, 4, 5, 8, 9, 10];
    expect(r.records).toBe(kept.length);
    expect(r.damaged.map((d) => [d.offset, d.bytes, d.sideOffset])).toEqual([
      [offsets[2], offsets[3] - offsets[2], 0],
      [offsets[6], offsets[8] - offsets[6], offsets[3] - offsets[2]],
      [offsets[11], offsets[12] - 4 - offsets[11], offsets[3] - offsets[2] + offsets[8] - offsets[6]],
    ]);
    expect(r.sideFile).toBe(`${file}.damaged-2024-05-06T07-08-09.010Z`);
    const bad = Buffer.concat(r.damaged.map((d) => original.subarray(d.offset, d.offset + d.bytes)));
    expect(fs.readFileSync(r.sideFile!).equals(bad)).toBe(true);
    const note = fs.readFileSync(r.noteFile!, 'utf8');
    expect(note).toContain(`[0, ${offsets[3] - offsets[2]}) was journal.log [${offsets[2]}, ${offsets[3]}): CRC mismatch`);
    expect(note).toContain(`was journal.log [${offsets[11]}, ${offsets[12] - 4}): length`);
    expect(fs.existsSync(`${file}.salvage-tmp`)).toBe(false);

    const j = await openJournal();
    expect(j.lastReplay).toEqual({ records: kept.length, droppedBytes: 0 });
    expect(all(j)).toEqual(kept.map((i) => dec.decode(records[i])));
    j.close();

    const again = salvageJournal(dir, new Date(now.getTime() + 1000)); // harmless: nothing to do
    expect(again).toMatchObject({ records: kept.length, damaged: [] });
    expect(again.sideFile).toBeUndefined();
    expect(fs.readdirSync(dir).sort()).toEqual(['journal.log', path.basename(r.sideFile!), path.basename(r.noteFile!)].sort());
  });

  it('a record alone between damage and a torn tail has no witness: its bytes go to the side file, not lost', async () => {
    const records = payloads(6);
    const { file, offsets } = await journalOf(records);
    flip(file, offsets[3] + 9);
    fs.truncateSync(file, offsets[6] - 4); // record 4 sits between the damage and the torn record 5
    const original = fs.readFileSync(file);
    const r = salvageJournal(dir);
    expect(r.records).toBe(3);
    expect(fs.readFileSync(r.sideFile!).equals(original.subarray(offsets[3]))).toBe(true);
  });

  it('a clean journal is left alone, byte for byte', async () => {
    const { file } = await journalOf(payloads(3));
    const before = fs.readFileSync(file);
    const mtime = fs.statSync(file).mtimeMs;
    const r = salvageJournal(dir);
    expect(r).toMatchObject({ records: 3, damaged: [] });
    expect(r.sideFile).toBeUndefined();
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    expect(fs.statSync(file).mtimeMs).toBe(mtime);
    expect(fs.readdirSync(dir)).toEqual(['journal.log']);
  });

  it('counts the rows of the writer batches it keeps', async () => {
    const { file, offsets } = await journalOf([twoSymbols(1, 10), twoSymbols(11, 10), twoSymbols(21, 10)]);
    flip(file, offsets[1] + 30);
    expect(salvageJournal(dir)).toMatchObject({ records: 2, rows: 40 });
  });
});

describe('journal command', () => {
  it('bad arguments print the usage line and exit 1', () => {
    for (const argv of [[], ['check'], ['inspect', '--dir'], ['inspect', '--verbose'], ['salvage', 'x']]) {
      const err: string[] = [];
      expect(main(argv, () => {}, (l) => err.push(l))).toBe(1);
      expect(err).toEqual([expect.stringMatching(/^usage: npm run journal -- inspect\|salvage \[--dir <journal dir>\]/)]);
    }
  });

  it('salvage refuses while tickplant holds DATA_DIR, and leaves the journal alone', async () => {
    const { file, offsets } = await journalOf(payloads(4));
    flip(file, offsets[1] + 9);
    const before = fs.readFileSync(file);
    const lock = lockDataDir(path.dirname(dir)); // as a running tickplant holds it
    try {
      const err: string[] = [];
      expect(main(['salvage', '--dir', dir], () => {}, (l) => err.push(l))).toBe(1);
      expect(err[0]).toMatch(new RegExp(`^journal: ${path.dirname(dir)} is in use by a running tickplant \\(pid ${process.pid}\\): stop it first`));
    } finally {
      lock.release();
    }
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    const out: string[] = [];
    expect(main(['salvage', '--dir', dir], (l) => out.push(l))).toBe(0); // once it is stopped
    expect(out[0]).toMatch(/^salvaged .*journal\.log: kept 3 valid records \(0 rows, [\d,]+ bytes\) in order; moved [\d,]+ damaged bytes \(1 range\) to /);
  });

  it('a missing journal is an error naming the directory', () => {
    const err: string[] = [];
    expect(main(['inspect', '--dir', dir], () => {}, (l) => err.push(l))).toBe(1);
    expect(err[0]).toContain(`no journal.log in ${dir}`);
  });
});
