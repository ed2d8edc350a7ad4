// Journal: round trip, maxBytes backpressure, truncate after commit, torn tails, reopen.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { crc32, Journal, JournalFullError } from '../../src/store/journal.js';

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

  it('round-trips records in order (creating the directory), including empty and large ones', async () => {
    const j = await openJournal(8 << 20, true);
    const big = new Uint8Array(3 << 20).map((_, i) => i & 0xff); // larger than the 1 MiB read chunk
    j.append(rec('a'));
    j.append(new Uint8Array(0));
    j.append(big);
    j.append(rec('after big'));
    j.flush();
    expect(j.records).toBe(4);
    expect(j.bytes).toBe(4 * 8 + 1 + big.length + 9);
    expect(fs.statSync(j.file).size).toBe(j.bytes);
    const got = [...j.replay()];
    expect(got.map((r) => r.length)).toEqual([1, 0, big.length, 9]);
    expect(Buffer.from(got[2]).equals(Buffer.from(big))).toBe(true);
    expect(dec.decode(got[3])).toBe('after big');
    expect(j.lastReplay).toEqual({ records: 4, droppedBytes: 0 });
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
