// The writer's journal record: books and trades round-trip; a record of the first format (books only) still decodes.
import { describe, expect, it } from 'vitest';
import { BatchBuilder, batchRows } from '../../src/actors/writer/batch.js';
import { JOURNAL_FORMAT_2, decodeJournalRecord, describeJournalRecord, encodeJournalRecord, journalRecordRows } from '../../src/actors/writer/journal-record.js';
import { R_ASK_COUNT, R_BID_COUNT, R_EPOCH, R_FEED_TS, R_SEQ, rawRecordFields } from '../../src/ring/layout.js';
import { EPOCH, T0, formatOneRecord, tradeRecord } from '../helpers/trade-records.js';

const DEPTH = 2;

function book(seq: number): Float64Array {
  const f = new Float64Array(rawRecordFields(DEPTH));
  f[R_SEQ] = seq;
  f[R_EPOCH] = 5;
  f[R_FEED_TS] = T0 + seq;
  f[R_BID_COUNT] = 0;
  f[R_ASK_COUNT] = 0;
  return f;
}

describe('journal record', () => {
  it('a batch of books and trades round-trips: payloads, progress, last trade, row counts', () => {
    const b = new BatchBuilder(DEPTH, false);
    b.add('US.AAPL', book(1), 0, 0);
    b.addTrade('US.AAPL', tradeRecord({ seq: 10 }), 0, 0);
    b.add('US.AAPL', book(2), 0, 0);
    b.addTrade('US.MSFT', tradeRecord({ seq: 3, timeMs: T0 + 0.25 }), 0, 0);
    expect(b.rows).toBe(4);
    const { batch } = b.close();
    expect(batchRows(batch)).toBe(4);
    const rec = encodeJournalRecord(batch);
    expect(Buffer.from(rec).readUInt32LE(0)).toBe(JOURNAL_FORMAT_2);
    const back = decodeJournalRecord(rec);
    expect(back.payload.equals(batch.payload)).toBe(true);
    expect(back.trades!.payload.equals(batch.trades!.payload)).toBe(true);
    expect({ ...back, payload: 0, trades: { ...back.trades, payload: 0 } }).toEqual({ ...batch, payload: 0, trades: { ...batch.trades, payload: 0 } });
    expect(back.trades!.last).toEqual({ symbol: 'US.MSFT', epoch: EPOCH, seq: 3, timeMs: T0 + 0.25 });
    expect(journalRecordRows(rec)).toBe(4);
    const d = describeJournalRecord(rec);
    expect(d.rows).toBe(4);
    expect(d.symbols).toEqual([{ symbol: 'US.AAPL', firstSeq: 1, lastSeq: 2, rows: 2 }]);
    expect(d.trades).toEqual([{ symbol: 'US.AAPL', firstSeq: 10, lastSeq: 10, rows: 1 }, { symbol: 'US.MSFT', firstSeq: 3, lastSeq: 3, rows: 1 }]);
  });

  it('a batch of trades only: no book rows, no progress', () => {
    const b = new BatchBuilder(DEPTH, false);
    for (let seq = 1; seq <= 3; seq++) b.addTrade('X', tradeRecord({ seq }), 0, 0);
    const back = decodeJournalRecord(encodeJournalRecord(b.close().batch));
    expect([back.rows, back.progress, back.payload.length, back.trades!.rows]).toEqual([0, [], 0, 3]);
    expect(back.trades!.payload.toString().split('\n').filter(Boolean).map((l) => l.split('\t')[2])).toEqual(['t1', 't2', 't3']);
  });

  it('a record of the first format (books only) still decodes, as a batch without trades', () => {
    const b = new BatchBuilder(DEPTH, false);
    b.add('US.AAPL', book(1), 0, 0);
    b.add('US.AAPL', book(2), 0, 0);
    const { batch } = b.close();
    const old = formatOneRecord(batch.progress, batch.rows, batch.newestFeedTs, batch.payload);
    const back = decodeJournalRecord(old);
    expect(back.trades).toBeUndefined();
    expect(back.payload.equals(batch.payload)).toBe(true);
    expect([back.rows, back.progress, back.newestFeedTs]).toEqual([2, batch.progress, batch.newestFeedTs]);
    expect(journalRecordRows(old)).toBe(2);
    expect(describeJournalRecord(old).symbols).toEqual([{ symbol: 'US.AAPL', firstSeq: 1, lastSeq: 2, rows: 2 }]);
  });

  it('refuses a record that is not a batch, of either format', () => {
    expect(() => decodeJournalRecord(new Uint8Array(3))).toThrow(RangeError);
    const bad = Buffer.alloc(12);
    bad.writeUInt32LE(JOURNAL_FORMAT_2, 0);
    bad.writeUInt32LE(100, 4);
    expect(() => decodeJournalRecord(bad)).toThrow(/cannot hold a header/);
    expect(() => decodeJournalRecord(Buffer.from([50, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]))).toThrow(RangeError);
  });
});
