// TradeRowEncoder without a database: column order, times with microseconds, side, the id's bytes, NULLs, escaping.
import { describe, expect, it } from 'vitest';
import { T_ID, T_ID_LENGTH, T_SIDE } from '../../src/ring/layout.js';
import { TRADE_COPY_COLUMNS, TradeRowEncoder } from '../../src/store/trade-row-encoder.js';
import { encodeTrade, maxTradeFrameBytes } from '../../src/protocol/trade-frames.js';
import { symbolJsonBytes } from '../../src/protocol/encode.js';
import { tradeRecord } from '../helpers/trade-records.js';

const lines = (enc: TradeRowEncoder): string[] => enc.bytes().toString('utf8').split('\n');
const T = Date.UTC(2024, 0, 2, 3, 4, 5, 678);

describe('TradeRowEncoder', () => {
  it('writes the columns in TRADE_COPY_COLUMNS order, tab-separated, one line per row', () => {
    expect(TRADE_COPY_COLUMNS).toEqual(['time', 'symbol', 'trade_id', 'price', 'size', 'side', 'epoch', 'seq', 'feed_time']);
    const enc = new TradeRowEncoder();
    enc.append('BINANCE.BTCUSDT', tradeRecord({ seq: 7, epoch: 1_700_000_000_123, id: '4242', price: 64_123.45, size: 0.015, side: 'sell', timeMs: T, feedTs: T + 2.5 }), 0);
    expect(enc.rows).toBe(1);
    const [row, rest] = lines(enc);
    expect(rest).toBe('');
    expect(row.split('\t')).toEqual([
      '2024-01-02T03:04:05.678Z', 'BINANCE.BTCUSDT', '4242', '64123.45', '0.015', 'sell', '1700000000123', '7', '2024-01-02T03:04:05.680500Z',
    ]);
  });

  it('time: the exchange time with its microseconds, as the trade frame writes it; the feed time when the exchange gave none', () => {
    const enc = new TradeRowEncoder();
    const withMicros = tradeRecord({ seq: 1, timeMs: T + 0.123, feedTs: T + 5 });
    enc.append('X', withMicros, 0);
    enc.append('X', tradeRecord({ seq: 2, timeMs: 0, feedTs: T + 9 }), 0);
    const [a, b] = lines(enc);
    expect(a.split('\t')[0]).toBe('2024-01-02T03:04:05.678123Z');
    expect(b.split('\t')[0]).toBe('2024-01-02T03:04:05.687Z');
    const frame = new Uint8Array(maxTradeFrameBytes(1));
    const json = JSON.parse(Buffer.from(frame.subarray(0, encodeTrade(frame, 0, symbolJsonBytes('X'), withMicros, 0))).toString()) as { timestamp: string };
    expect(json.timestamp).toBe(a.split('\t')[0]);
  });

  it('side: buy for TRADE_BUY, sell otherwise (as the frame reads it); the id limited to its character set', () => {
    const enc = new TradeRowEncoder();
    const r = tradeRecord({ seq: 3, id: 'ab\tc' });
    enc.append('X', r, 0);
    r[T_SIDE] = 9;
    const idBytes = new Uint8Array(r.buffer, T_ID * 8, 8);
    idBytes.set([0x41, 0x5c, 0x0a, 0x42]); // A \ LF B
    r[T_ID_LENGTH] = 4;
    enc.append('X', r, 0);
    const [a, b] = lines(enc).map((l) => l.split('\t'));
    expect([a[2], a[5]]).toEqual(['ab_c', 'buy']);
    expect([b[2], b[5]]).toEqual(['A__B', 'sell']);
  });

  it('writes NaN, ±Infinity and values beyond numeric(24,10)/(30,10) as \\N, counted; escapes the symbol', () => {
    const enc = new TradeRowEncoder();
    enc.append('A\\B\tC', tradeRecord({ seq: 1, price: NaN, size: Infinity }), 0);
    enc.append('A\\B\tC', tradeRecord({ seq: 2, price: 2e14, size: 1e19 }), 0);
    const [a, b] = lines(enc).map((l) => l.split('\t'));
    expect(a.slice(1, 5)).toEqual(['A\\\\B\\tC', 't1', '\\N', '\\N']); // COPY reads back A\B<tab>C
    expect(enc.outOfRange).toBe(3);
    expect(b[b.length - 6]).toBe('\\N');
    expect(b[b.length - 5]).toBe('10000000000000000000');
  });

  it('grows its buffer and keeps every row; reset() empties it', () => {
    const enc = new TradeRowEncoder(16);
    for (let seq = 1; seq <= 500; seq++) enc.append('BTC-USD', tradeRecord({ seq }), 0);
    const rows = lines(enc).slice(0, -1);
    expect(rows).toHaveLength(500);
    expect(rows.map((l) => Number(l.split('\t')[7]))).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    enc.reset();
    expect([enc.rows, enc.bytes().length]).toEqual([0, 0]);
  });
});
