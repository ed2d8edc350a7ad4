// Binance wire checks: a level is ["price","quantity"] as decimal strings, price > 0, quantity >= 0 (0 deletes); anything else names the level.
import { describe, expect, it } from 'vitest';
import { checkDepthEvent } from '../../src/feeds/binance/messages.js';

const event = (b: unknown[]) => ({ e: 'depthUpdate', E: 1_700_000_000_000, s: 'BTCUSDT', U: 10, u: 11, b, a: [['101.5', '0']] });

describe('checkDepthEvent', () => {
  it('accepts decimal strings, a zero quantity (a deletion) included', () => {
    expect(checkDepthEvent(event([['100.25', '1.5'], ['99', '0']]))).toBeNull();
  });

  it('refuses every level that is not a positive price and a non-negative quantity, naming it', () => {
    for (const level of [['0', '1'], ['-1', '1'], ['abc', '1'], ['', '1'], ['Infinity', '1'], ['100', '-0.5'], ['100', 'NaN'], [100, '1'], ['100'], 'x']) {
      expect(checkDepthEvent(event([['100', '1'], level])), JSON.stringify(level)).toMatch(/^b\[1\] is not \["price","quantity"\]/);
    }
  });
});
