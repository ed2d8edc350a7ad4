// Client message validation: each bad input gets its stable code and a message naming the field.
import { describe, expect, it } from 'vitest';
import {
  ERROR_CODES, errorFrame, parseClientMessage, parseResolution, pongFrame, statusFrame, unsubscribedFrame,
} from '../../src/protocol/client-message.js';

function rejected(text: string): { code: string; message: string } {
  const r = parseClientMessage(text);
  if (r.ok) throw new Error(`accepted ${text}: ${JSON.stringify(r.msg)}`);
  return { code: r.code, message: r.message };
}

function accepted(text: string): unknown {
  const r = parseClientMessage(text);
  if (!r.ok) throw new Error(`rejected ${text}: ${r.code} ${r.message}`);
  return r.msg;
}

describe('parseClientMessage rejects', () => {
  it.each([
    ['invalid JSON', '{"action":', 'invalid_json', /^message: not valid JSON/],
    ['empty text', '', 'invalid_json', /JSON/],
    ['a string', '"subscribe"', 'invalid_message', /^message: expected a JSON object/],
    ['null', 'null', 'invalid_message', /^message: expected a JSON object/],
    ['an array', '[{"action":"ping"}]', 'invalid_message', /^message: expected a JSON object/],
    ['a missing action', '{"symbol":"US.AAPL"}', 'invalid_message', /^action: expected one of "subscribe", "unsubscribe", "ping"/],
    ['a numeric action', '{"action":1}', 'invalid_message', /^action: /],
    ['an unknown action', '{"action":"subscribe_all"}', 'unknown_action', /^unknown action "subscribe_all"/],
    ['a missing symbol', '{"action":"subscribe"}', 'invalid_message', /^symbol: expected a string of 1-32 characters \[A-Za-z0-9._:\/-\]$/],
    ['a numeric symbol', '{"action":"subscribe","symbol":42}', 'invalid_message', /^symbol: expected a string/],
    ['an empty symbol', '{"action":"subscribe","symbol":""}', 'invalid_message', /^symbol: /],
    ['a symbol too long', `{"action":"subscribe","symbol":"${'A'.repeat(33)}"}`, 'invalid_message', /^symbol: /],
    ['a symbol with a space', '{"action":"subscribe","symbol":"US AAPL"}', 'invalid_message', /^symbol: /],
    ['a symbol with a quote', '{"action":"unsubscribe","symbol":"US\\"AAPL"}', 'invalid_message', /^symbol: /],
    ['a symbol with non-ASCII', '{"action":"subscribe","symbol":"ÜS"}', 'invalid_message', /^symbol: /],
    ['an unsubscribe without symbol', '{"action":"unsubscribe"}', 'invalid_message', /^symbol: /],
    ['a resolution unit', '{"action":"subscribe","symbol":"A","resolution":"1d"}', 'invalid_message', /^resolution: expected "none", a duration/],
    ['a resolution above 1h', '{"action":"subscribe","symbol":"A","resolution":"61m"}', 'invalid_message', /^resolution: /],
    ['a zero resolution', '{"action":"subscribe","symbol":"A","resolution":"0s"}', 'invalid_message', /^resolution: /],
    ['zero seconds', '{"action":"subscribe","symbol":"A","resolution":0}', 'invalid_message', /^resolution: /],
    ['fractional seconds', '{"action":"subscribe","symbol":"A","resolution":1.5}', 'invalid_message', /^resolution: /],
    ['seconds above 3600', '{"action":"subscribe","symbol":"A","resolution":3601}', 'invalid_message', /^resolution: /],
    ['a resolution object', '{"action":"subscribe","symbol":"A","resolution":{}}', 'invalid_message', /^resolution: /],
    ['resume not an object', '{"action":"subscribe","symbol":"A","resume":5}', 'invalid_message', /^resume: expected an object/],
    ['resume with negative seq', '{"action":"subscribe","symbol":"A","resume":{"seq":-1,"epoch":5}}', 'invalid_message', /^resume\.seq: expected an integer >= 0$/],
    ['resume with fractional seq', '{"action":"subscribe","symbol":"A","resume":{"seq":1.5,"epoch":5}}', 'invalid_message', /^resume\.seq: /],
    ['resume with unsafe seq', '{"action":"subscribe","symbol":"A","resume":{"seq":1e300,"epoch":5}}', 'invalid_message', /^resume\.seq: /],
    ['resume without epoch', '{"action":"subscribe","symbol":"A","resume":{"seq":3}}', 'invalid_message', /^resume\.epoch: expected an integer > 0$/],
    ['resume with epoch 0', '{"action":"subscribe","symbol":"A","resume":{"seq":3,"epoch":0}}', 'invalid_message', /^resume\.epoch: /],
    ['an unknown channel', '{"action":"subscribe","symbol":"A","channels":["book","quotes"]}', 'invalid_message', /^channels\.1: expected one of "book", "trades", "candles:1s", .*"ticker"$/],
    ['channels not an array', '{"action":"subscribe","symbol":"A","channels":"trades"}', 'invalid_message', /^channels: expected an array/],
    ['no channel', '{"action":"subscribe","symbol":"A","channels":[]}', 'invalid_message', /^channels: expected an array/],
    ['a per-channel resume with a bad seq', '{"action":"subscribe","symbol":"A","resume":{"trades":{"seq":-1,"epoch":2}}}', 'invalid_message', /^resume\.trades\.seq: expected an integer >= 0$/],
    ['a per-channel resume naming an unknown channel', '{"action":"subscribe","symbol":"A","resume":{"trades":{"seq":1,"epoch":2},"quotes":{}}}', 'invalid_message', /^resume: expected \{"seq","epoch"\} or per channel/],
    ['a ping id object', '{"action":"ping","id":{}}', 'invalid_message', /^id: /],
    ['a ping id too long', `{"action":"ping","id":"${'x'.repeat(65)}"}`, 'invalid_message', /^id: /],
  ])('%s', (_, text, code, message) => {
    const r = rejected(text);
    expect(r.code).toBe(code);
    expect(r.message).toMatch(message);
  });

  it('truncates a long unknown action in its message', () => {
    const r = rejected(JSON.stringify({ action: 'x'.repeat(10_000) }));
    expect(r.code).toBe('unknown_action');
    expect(r.message.length).toBeLessThan(200);
  });
});

describe('parseClientMessage accepts and normalizes', () => {
  it('a plain subscribe: server-default resolution, no resume', () => {
    expect(accepted('{"action":"subscribe","symbol":"US.AAPL"}'))
      .toEqual({ action: 'subscribe', symbol: 'US.AAPL', channels: ['book'], resolutionMs: undefined, resume: undefined });
  });

  it.each([
    ['"none"', 0], ['"1s"', 1_000], ['"5s"', 5_000], ['"15s"', 15_000], ['"1m"', 60_000], ['"5m"', 300_000],
    ['"15m"', 900_000], ['"1h"', 3_600_000], ['"3600s"', 3_600_000], ['"60m"', 3_600_000], ['1', 1_000], ['3600', 3_600_000],
  ])('resolution %s → %i ms', (resolution, ms) => {
    const msg = accepted(`{"action":"subscribe","symbol":"BTC/USDT:PERP","resolution":${resolution}}`);
    expect(msg).toMatchObject({ action: 'subscribe', symbol: 'BTC/USDT:PERP', resolutionMs: ms });
  });

  it('a resume point', () => {
    expect(accepted('{"action":"subscribe","symbol":"A-1_b","resume":{"seq":0,"epoch":1763899200000}}'))
      .toMatchObject({ resume: { book: { seq: 0, epoch: 1763899200000 } } });
  });

  it('channels, without repeats, and a resume point per channel', () => {
    expect(accepted('{"action":"subscribe","symbol":"A","channels":["trades","book","trades"],"resume":{"trades":{"seq":7,"epoch":3}}}'))
      .toEqual({ action: 'subscribe', symbol: 'A', channels: ['trades', 'book'], resolutionMs: undefined, resume: { trades: { seq: 7, epoch: 3 } } });
    expect(accepted('{"action":"subscribe","symbol":"A","channels":["book","trades"],"resume":{"book":{"seq":1,"epoch":2},"trades":{"seq":0,"epoch":4}}}'))
      .toMatchObject({ resume: { book: { seq: 1, epoch: 2 }, trades: { seq: 0, epoch: 4 } } });
    expect(accepted('{"action":"unsubscribe","symbol":"A","channels":["trades"]}')).toEqual({ action: 'unsubscribe', symbol: 'A', channels: ['trades'] });
  });

  it('ignores unknown fields, including the last_seq form it does not take as resume', () => {
    expect(accepted('{"action":"subscribe","symbol":"A","last_seq":5,"epoch":2,"channels":["book"]}'))
      .toEqual({ action: 'subscribe', symbol: 'A', channels: ['book'], resolutionMs: undefined, resume: undefined });
  });

  it('unsubscribe and ping with or without id', () => {
    expect(accepted('{"action":"unsubscribe","symbol":"US.AAPL"}')).toEqual({ action: 'unsubscribe', symbol: 'US.AAPL', channels: undefined });
    expect(accepted('{"action":"ping"}')).toEqual({ action: 'ping', id: undefined });
    expect(accepted('{"action":"ping","id":"abc"}')).toEqual({ action: 'ping', id: 'abc' });
    expect(accepted('{"action":"ping","id":7}')).toEqual({ action: 'ping', id: 7 });
  });
});

describe('frames', () => {
  it('error frames carry code and message, and the symbol when given', () => {
    expect(JSON.parse(errorFrame('unknown_symbol', 'no feed carries "X"', { symbol: 'X' })))
      .toEqual({ type: 'error', code: 'unknown_symbol', message: 'no feed carries "X"', symbol: 'X' });
    expect(errorFrame('internal', 'boom')).toBe('{"type":"error","code":"internal","message":"boom"}');
  });

  it('lists every code once', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    expect(ERROR_CODES).toEqual(expect.arrayContaining([
      'invalid_json', 'invalid_message', 'unknown_action', 'payload_too_large',
      'unknown_symbol', 'too_many_subscriptions', 'not_subscribed', 'internal',
    ]));
  });

  it('pong, unsubscribed and status', () => {
    expect(pongFrame()).toBe('{"type":"pong"}');
    expect(JSON.parse(pongFrame('a"b'))).toEqual({ type: 'pong', id: 'a"b' });
    expect(JSON.parse(unsubscribedFrame('US.AAPL'))).toEqual({ type: 'unsubscribed', symbol: 'US.AAPL' });
    expect(JSON.parse(statusFrame('US.AAPL', 'stale', Date.UTC(2026, 0, 2, 3, 4, 5, 6))))
      .toEqual({ type: 'status', symbol: 'US.AAPL', status: 'stale', since: '2026-01-02T03:04:05.006Z' });
    expect(JSON.parse(statusFrame('US.AAPL', 'live', NaN)).since).toBeNull();
  });
});

describe('parseResolution (also used for the HTTP resolution query parameter)', () => {
  it.each([
    ['none', 0], ['1s', 1_000], ['15m', 900_000], ['1h', 3_600_000], ['60', 60_000], [60, 60_000],
  ] as const)('%s → %i ms', (value, ms) => {
    expect(parseResolution(value)).toEqual({ ok: true, ms });
  });

  it.each(['', '0', '0s', '2h', '3601', '1.5', '1d', 'NONE', ' 1s', 1.5, 0, null])('rejects %s', (value) => {
    const r = parseResolution(value);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(/^expected "none", a duration/);
  });
});
