// Bad client input gets an error frame naming the problem; the connection and everyone else carry on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Runtime, startRuntime } from '../helpers/runtime.js';
import { TestClient, sequenceProblems } from '../helpers/ws-client.js';
import { closeCode, sendRaw } from '../helpers/raw-ws.js';

let rt: Runtime;
beforeAll(async () => {
  rt = await startRuntime({
    shards: 1, symbols: ['US.AAPL', 'US.MSFT', 'BTC-USD'], simUpdatesPerSecond: 200,
    wsMaxSubscriptions: 2, wsMaxMessageBytes: 256,
  });
});
afterAll(() => rt?.stop());

describe('bad input', () => {
  it('answers each bad message with an error frame and keeps the connection usable', async () => {
    const bystander = await TestClient.connect(rt.ws);
    bystander.send({ action: 'subscribe', symbol: 'BTC-USD', resolution: 'none' });
    const c = await TestClient.connect(`${rt.ws}/client-42`);
    const cases: [unknown, string, RegExp][] = [
      ['{not json', 'invalid_json', /JSON/i],
      ['[1,2]', 'invalid_message', /message/],
      [{ action: 'dance' }, 'unknown_action', /dance/],
      [{ action: 'subscribe' }, 'invalid_message', /^symbol/],
      [{ action: 'subscribe', symbol: 'bad symbol!' }, 'invalid_message', /^symbol/],
      [{ action: 'subscribe', symbol: 'US.AAPL', resolution: 'often' }, 'invalid_message', /^resolution/],
      [{ action: 'subscribe', symbol: 'US.AAPL', resume: { seq: -1, epoch: 1 } }, 'invalid_message', /^resume\.seq/],
      [{ action: 'subscribe', symbol: 'NOPE.X' }, 'unknown_symbol', /NOPE\.X/],
      [{ action: 'unsubscribe', symbol: 'US.MSFT' }, 'not_subscribed', /US\.MSFT/],
      [JSON.stringify({ action: 'ping', id: 'x'.repeat(400) }), 'payload_too_large', /WS_MAX_MESSAGE_BYTES/],
    ];
    for (const [msg, code, message] of cases) {
      const from = c.messages.length;
      c.send(msg);
      const err = await c.waitFor((m) => m.type === 'error', 5000, from);
      expect(err.code, JSON.stringify(msg)).toBe(code);
      expect(err.message as string, JSON.stringify(msg)).toMatch(message);
    }

    // The subscription limit (2): the third subscribe is refused, the first two work.
    c.send({ action: 'subscribe', symbol: 'US.AAPL', resolution: 'none' });
    c.send({ action: 'subscribe', symbol: 'US.MSFT', resolution: 'none' });
    const from = c.messages.length;
    c.send({ action: 'subscribe', symbol: 'BTC-USD', resolution: 'none' });
    const limit = await c.waitFor((m) => m.type === 'error', 5000, from);
    expect(limit).toMatchObject({ code: 'too_many_subscriptions', symbol: 'BTC-USD' });

    // Still usable: pong, updates on both subscriptions, clean unsubscribe.
    c.send({ action: 'ping', id: 7 });
    expect(await c.waitFor((m) => m.type === 'pong')).toMatchObject({ id: 7 });
    await c.waitFor((m) => m.symbol === 'US.MSFT' && m.type === 'orderbook_update');
    c.send({ action: 'unsubscribe', symbol: 'US.MSFT' });
    await c.waitFor((m) => m.type === 'unsubscribed' && m.symbol === 'US.MSFT');
    c.close();
    expect(c.closeCode ?? (await c.closed)).toBe(1005); // closed by us, not by the server

    await bystander.waitFor((m) => m.type === 'orderbook_update' && bystander.messages.length > 40);
    bystander.close();
    expect(sequenceProblems(bystander.stream('BTC-USD'))).toEqual([]);
    expect(bystander.messages.some((m) => m.type === 'error')).toBe(false);

    const stats = await rt.get<{ front: { errorsSent: Record<string, number> } }>('/stats');
    expect(stats.body.front.errorsSent.invalid_message).toBeGreaterThanOrEqual(5);
    expect(stats.body.front.errorsSent.too_many_subscriptions).toBe(1);
  });

  it('a message far over the limit gets its error frame, then a close frame with 1009 (seen on the wire)', async () => {
    // wsMaxMessageBytes 256: error frame above 256 B; closed above 64 KiB; uWS cuts above 256 KiB.
    const frames = await sendRaw(rt.ws, Buffer.from(JSON.stringify({ action: 'ping', id: 'x'.repeat(100_000) })));
    expect(frames.map((f) => f.opcode)).toEqual([0x1, 0x8]);
    expect(JSON.parse(frames[0].payload.toString())).toMatchObject({ type: 'error', code: 'payload_too_large' });
    expect(closeCode(frames[1])).toBe(1009);
    expect(frames[1].payload.subarray(2).toString()).toBe('message too big');

    // Between the error limit and the close limit: the error frame, and the connection stays open.
    const c = await TestClient.connect(rt.ws);
    c.send(JSON.stringify({ action: 'ping', id: 'y'.repeat(10_000) }));
    expect(await c.waitFor((m) => m.type === 'error')).toMatchObject({ code: 'payload_too_large' });
    c.send({ action: 'ping', id: 1 });
    expect(await c.waitFor((m) => m.type === 'pong')).toMatchObject({ id: 1 });
    c.close();
  });

  it('rejects non-GET HTTP methods with 405 JSON', async () => {
    const r = await fetch(`${rt.http}/stats`, { method: 'POST', body: 'x' });
    expect(r.status).toBe(405);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed');
  });
});
