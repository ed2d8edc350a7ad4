// Kraken's v2 book checksum: the documented example, the documented formatting steps, and agreement with the rule read literally on random books.
import * as zlib from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExchangeBook } from '../../src/feeds/exchange-book.js';
import { bookChecksum, crc32, crc32Table, CRC32_SOURCE } from '../../src/feeds/kraken/checksum.js';
import { fixed, referenceChecksum } from '../helpers/exchanges/kraken-server.js';

const bookOf = (bids: [number, number][], asks: [number, number][]): ExchangeBook => {
  const b = new ExchangeBook();
  for (const [p, q] of bids) b.bids.set(p, q);
  for (const [p, q] of asks) b.asks.set(p, q);
  return b;
};

const checksumOf = (b: ExchangeBook, pp: number, qp: number): number => bookChecksum(b.asks, b.bids, pp, qp);

describe('Kraken v2 book checksum', () => {
  // The example of Kraken's guide "Book checksum (WebSocket v2)"
  // (https://docs.kraken.com/exchange/guides/websockets/book-checksum-v2, formerly
  // https://docs.kraken.com/api/docs/guides/spot-ws-book-v2): a BTC/USD snapshot, price precision 1
  // and qty precision 8, whose "checksum" field is 3310070434. The guide's first ask shows the
  // formatting: price "45285.2" → "452852", qty "0.00100000" → "100000".
  const docBids: [number, number][] = [
    [45283.5, 0.1], [45283.4, 1.54582015], [45282.1, 0.1], [45281.0, 0.1], [45280.3, 1.54592586],
    [45279.0, 0.0799], [45277.6, 0.03310103], [45277.5, 0.3], [45277.3, 1.54602737], [45276.6, 0.15445238],
  ];
  const docAsks: [number, number][] = [
    [45285.2, 0.001], [45286.4, 1.54571953], [45286.6, 1.54571109], [45289.6, 1.54560911], [45290.2, 0.1589066],
    [45291.8, 1.54553491], [45294.7, 0.04454749], [45296.1, 0.3538], [45297.5, 0.09945542], [45299.5, 0.18772827],
  ];

  it('gives the documented example its documented checksum (3310070434)', () => {
    expect(checksumOf(bookOf(docBids, docAsks), 1, 8)).toBe(3310070434);
  });

  it('formats at the pair precision, not as the JSON number happens to be spelled', () => {
    // JSON.parse("0.10000000") is 0.1: spelled "0.1" the level would read "1", not "10000000".
    expect(checksumOf(bookOf(docBids, docAsks), 1, 7)).not.toBe(3310070434);
    const one = bookOf([], [[45285.2, 0.001]]);
    expect(checksumOf(one, 1, 8)).toBe(zlib.crc32('452852100000') >>> 0);
  });

  it("follows the v1 guide's example of leading zeros: price 0.05000, volume 0.00000304 → \"5000304\"", () => {
    // https://docs.kraken.com/exchange/guides/websockets/book-checksum-v1: the same formatting rule.
    expect(checksumOf(bookOf([], [[0.05, 0.00000304]]), 5, 8)).toBe(zlib.crc32('5000304') >>> 0);
  });

  it('covers the top 10 levels of each side only, asks before bids', () => {
    const bids: [number, number][] = Array.from({ length: 15 }, (_, i) => [100 - i, 1 + i]);
    const asks: [number, number][] = Array.from({ length: 15 }, (_, i) => [101 + i, 1 + i]);
    const base = checksumOf(bookOf(bids, asks), 0, 0);
    expect(checksumOf(bookOf(bids.slice(0, 10), asks.slice(0, 10)), 0, 0)).toBe(base);
    expect(checksumOf(bookOf([...bids.slice(0, 10), [50, 7]], asks), 0, 0)).toBe(base);
    const text = (ls: [number, number][]): string => ls.slice(0, 10).map(([p, q]) => `${p}${q}`).join('');
    expect(base).toBe(zlib.crc32(text(asks) + text(bids)) >>> 0);
  });

  it('refuses what it cannot format exactly (-1, which no checksum equals)', () => {
    expect(checksumOf(bookOf([[1e12, 1]], []), 8, 0)).toBe(-1); // 10^20 units: past 2^53
    expect(checksumOf(bookOf([[1, 1]], []), 1.5, 0)).toBe(-1);
    expect(checksumOf(bookOf([[1, 1]], []), 0, 19)).toBe(-1);
  });

  it('agrees with the rule read literally on wire text, for random books and precisions', () => {
    const level = fc.tuple(fc.integer({ min: 1, max: 2_000_000_000 }), fc.integer({ min: 1, max: 9_000_000_000 }));
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 10 }),
      fc.uniqueArray(level, { selector: (l) => l[0], maxLength: 14 }), fc.uniqueArray(level, { selector: (l) => l[0], maxLength: 14 }),
      (pp, qp, bidUnits, askUnits) => {
        const sorted = (ls: [number, number][], desc: boolean): [number, number][] => [...ls].sort((a, b) => (desc ? b[0] - a[0] : a[0] - b[0]));
        const bids = sorted(bidUnits, true);
        const asks = sorted(askUnits, false);
        // As a client gets them: the wire text parsed into doubles.
        const parsed = (ls: [number, number][]): [number, number][] => ls.map(([p, q]) => [Number(fixed(p, pp)), Number(fixed(q, qp))]);
        const text = (ls: [number, number][]): [string, string][] => ls.map(([p, q]) => [fixed(p, pp), fixed(q, qp)]);
        expect(checksumOf(bookOf(parsed(bids), parsed(asks)), pp, qp)).toBe(referenceChecksum(text(asks), text(bids)));
      },
    ), { numRuns: 300 });
  });
});

describe('CRC32', () => {
  it(`uses ${CRC32_SOURCE === 'zlib' ? "Node's zlib.crc32" : 'its table'} here; both give the standard check value`, () => {
    const check = new TextEncoder().encode('123456789');
    expect(crc32(check)).toBe(0xcbf43926);
    expect(crc32Table(check)).toBe(0xcbf43926);
  });

  it('the table agrees with zlib on random bytes and prefixes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (bytes, cut) => {
      const len = bytes.length === 0 ? 0 : cut % (bytes.length + 1);
      expect(crc32Table(bytes, len)).toBe(zlib.crc32(bytes.subarray(0, len)) >>> 0);
      expect(crc32(bytes, len)).toBe(crc32Table(bytes, len));
    }), { numRuns: 300 });
  });
});
