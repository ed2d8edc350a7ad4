// Client messages, property-based: any text gets a result (never an exception), codes follow the input's shape, valid messages round-trip.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CLIENT_ACTIONS, type ClientMessage, ERROR_CODES, TOKEN_MAX_LENGTH, authenticatedFrame, errorFrame, parseClientMessage, parseResolution, pongFrame, statusFrame,
} from '../../src/protocol/client-message.js';

/** UTF-16 code units, lone surrogates included: what a decoded text frame can hold. */
const anyText = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 200 });
const SYMBOL = /^[A-Za-z0-9._:/-]{1,32}$/;
const symbol = fc.stringMatching(SYMBOL);
/** Field paths a rejection may name (zod's issue path, or the whole message). */
const MESSAGE_SHAPE = /^(?:(?:message|action|symbol|channels(?:\.\d+)?|resolution|resume(?:\.(?:book|trades))?(?:\.seq|\.epoch)?|id|token): |unknown action ")/;

/** Values JSON can carry, including the awkward ones (huge, negative zero, deep). */
const jsonish = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom(1e308, -1e308, 5e-324, -0, 2 ** 53 + 2, '', ' ', 'none', '1m', '__proto__'),
  fc.double(),
);

function expectWellFormed(r: ReturnType<typeof parseClientMessage>): void {
  if (r.ok) {
    expect(CLIENT_ACTIONS).toContain(r.msg.action);
  } else {
    expect(ERROR_CODES).toContain(r.code);
    expect(r.message).toMatch(MESSAGE_SHAPE);
  }
}

describe('parseClientMessage on any input', () => {
  it('returns a result for any text, with a known code and a message naming a field', () => {
    fc.assert(fc.property(anyText, (text) => expectWellFormed(parseClientMessage(text))), { numRuns: 2000 });
  });

  it('returns a result for any JSON object, whatever its action and fields hold', () => {
    const message = fc.record(
      { action: fc.oneof(fc.constantFrom(...CLIENT_ACTIONS), jsonish), symbol: fc.oneof(symbol, jsonish), resolution: jsonish, resume: jsonish, id: jsonish, token: fc.oneof(fc.string(), jsonish) },
      { requiredKeys: [] },
    );
    fc.assert(fc.property(message, fc.dictionary(fc.string(), jsonish, { maxKeys: 5 }), (m, extra) => {
      expectWellFormed(parseClientMessage(JSON.stringify({ ...extra, ...m })));
    }), { numRuns: 2000 });
  });

  it('sorts by shape: not JSON → invalid_json; JSON but not an object, or an action that is not a string → invalid_message; an unknown action → unknown_action', () => {
    fc.assert(fc.property(fc.oneof(anyText, jsonish.map((v) => JSON.stringify(v) ?? 'null'), fc.record({ action: jsonish }).map((o) => JSON.stringify(o))), (text) => {
      const r = parseClientMessage(text);
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        expect(r).toMatchObject({ ok: false, code: 'invalid_json' });
        return;
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        expect(r).toMatchObject({ ok: false, code: 'invalid_message' });
        return;
      }
      const action = (value as { action?: unknown }).action;
      if (typeof action !== 'string') expect(r).toMatchObject({ ok: false, code: 'invalid_message', message: expect.stringMatching(/^action: /) });
      else if (!(CLIENT_ACTIONS as readonly string[]).includes(action)) {
        const shown = action.length > 32 ? `${action.slice(0, 32)}…` : action;
        expect(r).toEqual({ ok: false, code: 'unknown_action', message: expect.stringContaining(JSON.stringify(shown)) });
      }
    }), { numRuns: 2000 });
  });
});

// ── valid messages round-trip ────────────────────────────────────────────────

/** A resolution as a client may write it, with the ms the server must read from it. */
const resolution: fc.Arbitrary<{ wire: unknown; ms: number | undefined }> = fc.oneof(
  fc.constant({ wire: undefined, ms: undefined }),
  fc.constant({ wire: 'none', ms: 0 }),
  fc.integer({ min: 1, max: 3600 }).map((s) => ({ wire: s, ms: s * 1000 })),
  fc.integer({ min: 1, max: 3600 }).map((s) => ({ wire: String(s), ms: s * 1000 })),
  fc.integer({ min: 1, max: 3600 }).map((s) => ({ wire: `${s}s`, ms: s * 1000 })),
  fc.integer({ min: 1, max: 60 }).map((m) => ({ wire: `${m}m`, ms: m * 60_000 })),
  fc.constant({ wire: '1h', ms: 3_600_000 }),
);
const resume = fc.option(fc.record({ seq: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), epoch: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }) }), { nil: undefined });
/** Fields a newer client may add: ignored. */
const unknownFields = fc.dictionary(fc.string().filter((k) => !['action', 'symbol', 'resolution', 'resume', 'channels', 'id', 'token', '__proto__'].includes(k)), fc.jsonValue(), { maxKeys: 4 });

const validMessage: fc.Arbitrary<{ wire: Record<string, unknown>; msg: ClientMessage }> = fc.oneof(
  fc.tuple(symbol, resolution, resume).map(([s, res, rs]) => ({
    wire: { action: 'subscribe', symbol: s, ...(res.wire === undefined ? {} : { resolution: res.wire }), ...(rs ? { resume: rs } : {}) },
    msg: { action: 'subscribe', symbol: s, channels: ['book'], resolutionMs: res.ms, resume: rs && { book: rs } } as ClientMessage,
  })),
  symbol.map((s) => ({ wire: { action: 'unsubscribe', symbol: s }, msg: { action: 'unsubscribe', symbol: s, channels: undefined } as ClientMessage })),
  fc.option(fc.oneof(fc.string({ maxLength: 64 }), fc.double({ noNaN: true, noDefaultInfinity: true })), { nil: undefined }).map((id) => ({
    wire: id === undefined ? { action: 'ping' } : { action: 'ping', id },
    // JSON writes -0 as 0.
    msg: { action: 'ping', id: id === undefined ? undefined : (JSON.parse(JSON.stringify(id)) as string | number) } as ClientMessage,
  })),
  fc.oneof(anyText.filter((t) => t.length > 0), fc.string({ minLength: TOKEN_MAX_LENGTH - 2, maxLength: TOKEN_MAX_LENGTH })).map((token) => ({
    wire: { action: 'auth', token }, msg: { action: 'auth', token } as ClientMessage,
  })),
);

describe('valid messages', () => {
  it('parse to exactly what they say, with unknown fields ignored', () => {
    fc.assert(fc.property(validMessage, unknownFields, ({ wire, msg }, extra) => {
      expect(parseClientMessage(JSON.stringify({ ...extra, ...wire }))).toEqual({ ok: true, msg });
    }), { numRuns: 2000 });
  });

  it('a symbol is accepted exactly when it is 1-32 characters of [A-Za-z0-9._:/-], for subscribe and unsubscribe alike', () => {
    fc.assert(fc.property(fc.oneof(anyText, symbol), fc.constantFrom('subscribe', 'unsubscribe'), (s, action) => {
      const r = parseClientMessage(JSON.stringify({ action, symbol: s }));
      expect(r.ok).toBe(SYMBOL.test(s));
      if (!r.ok) expect(r).toMatchObject({ code: 'invalid_message', message: expect.stringMatching(/^symbol: /) });
    }), { numRuns: 2000 });
  });

  it('a token is accepted exactly when it is a string of 1-TOKEN_MAX_LENGTH characters', () => {
    fc.assert(fc.property(fc.oneof(jsonish, fc.string({ maxLength: 10 }), fc.integer({ min: TOKEN_MAX_LENGTH - 1, max: TOKEN_MAX_LENGTH + 1 }).map((n) => 't'.repeat(n))), (token) => {
      const r = parseClientMessage(JSON.stringify({ action: 'auth', token }));
      expect(r.ok).toBe(typeof token === 'string' && token.length >= 1 && token.length <= TOKEN_MAX_LENGTH);
      if (!r.ok) expect(r).toMatchObject({ code: 'invalid_message', message: expect.stringMatching(/^token: /) });
    }), { numRuns: 1000 });
  });

  it('resume is accepted exactly when seq is a safe integer >= 0 and epoch a safe integer >= 1', () => {
    const n = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, -0, 1, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, 1e300, -1));
    fc.assert(fc.property(n, n, (seq, epoch) => {
      const r = parseClientMessage(JSON.stringify({ action: 'subscribe', symbol: 'A', resume: { seq, epoch } }));
      // What the server received is what JSON carried (NaN and Infinity become null).
      const [s, e] = JSON.parse(JSON.stringify([seq, epoch])) as [unknown, unknown];
      const ok = Number.isSafeInteger(s) && (s as number) >= 0 && Number.isSafeInteger(e) && (e as number) >= 1;
      expect(r.ok).toBe(ok);
      if (!r.ok) expect(r.message).toMatch(/^resume\.(seq|epoch): /);
    }), { numRuns: 2000 });
  });

  it('number literals JSON cannot hold exactly are refused where they would be wrong: 1e400 as an epoch or a ping id is Infinity', () => {
    for (const text of ['{"action":"subscribe","symbol":"A","resume":{"seq":1,"epoch":1e400}}', '{"action":"ping","id":1e400}', '{"action":"ping","id":-1e400}']) {
      expect(parseClientMessage(text)).toMatchObject({ ok: false, code: 'invalid_message' });
    }
  });

  it('the pong echoes any accepted ping id unchanged', () => {
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 64 }), fc.double({ noNaN: true, noDefaultInfinity: true })), (id) => {
      const r = parseClientMessage(JSON.stringify({ action: 'ping', id }));
      if (!r.ok || r.msg.action !== 'ping') throw new Error(`ping refused: ${JSON.stringify(r)}`);
      expect(JSON.parse(pongFrame(r.msg.id))).toEqual({ type: 'pong', id: JSON.parse(JSON.stringify(id)) });
    }), { numRuns: 1000 });
  });
});

describe('parseResolution', () => {
  it('accepts "none" (0) or a resolution from 1 s to 1 h, nothing else', () => {
    fc.assert(fc.property(fc.oneof(jsonish, anyText, fc.integer({ min: -10, max: 4000 }), fc.integer({ min: 0, max: 99 }).chain((k) => fc.constantFrom(`${k}s`, `${k}m`, `${k}h`, `${k}d`, `0${k}s`))), (v) => {
      const r = parseResolution(v);
      if (r.ok) expect(v === 'none' ? r.ms === 0 : r.ms >= 1000 && r.ms <= 3_600_000).toBe(true);
      else expect(r.message).toMatch(/^expected "none"/);
    }), { numRuns: 3000 });
  });

  it('reads whole seconds the same as a number, as digits and with the s unit, and minutes as 60 s', () => {
    fc.assert(fc.property(fc.integer({ min: -100, max: 5000 }), (s) => {
      const expected = s >= 1 && s <= 3600 ? { ok: true, ms: s * 1000 } : { ok: false };
      expect(parseResolution(s)).toMatchObject(expected);
      if (s >= 0) {
        expect(parseResolution(String(s))).toMatchObject(expected);
        expect(parseResolution(`${s}s`)).toMatchObject(expected);
        const m = parseResolution(`${s}m`);
        const asSeconds = parseResolution(`${s * 60}s`);
        if (s * 60 < 1e7) expect(m).toEqual(asSeconds);
      }
    }), { numRuns: 2000 });
  });

  it('refuses numbers that are not whole seconds and strings with signs, decimals or spaces', () => {
    fc.assert(fc.property(fc.double({ min: 1, max: 3600, noNaN: true }).filter((d) => !Number.isInteger(d)), (d) => {
      expect(parseResolution(d).ok).toBe(false);
      expect(parseResolution(String(d)).ok).toBe(false);
    }));
    fc.assert(fc.property(fc.integer({ min: 1, max: 3600 }), fc.constantFrom('+', '-', ' ', '.0', 'e0', '\t'), (s, junk) => {
      expect(parseResolution(junk.startsWith('.') || junk.startsWith('e') ? `${s}${junk}` : `${junk}${s}`).ok).toBe(false);
    }));
  });
});

describe('frames built from client input', () => {
  it('an error frame carries any code, message and symbol through JSON unchanged', () => {
    fc.assert(fc.property(fc.constantFrom(...ERROR_CODES), anyText, fc.option(anyText, { nil: undefined }), (code, message, symbol) => {
      // JSON.stringify escapes lone surrogates, so even those come back as they were.
      const frame = JSON.parse(errorFrame(code, message, symbol === undefined ? undefined : { symbol })) as unknown;
      expect(frame).toEqual({ type: 'error', code, message, ...(symbol === undefined ? {} : { symbol }) });
    }), { numRuns: 1000 });
  });

  it('an authenticated frame never throws, and names a representable expiry as its ISO time', () => {
    // A verified JWT's exp is any finite number of seconds: expiresAtMs can be far beyond what a Date holds.
    fc.assert(fc.property(fc.string(), fc.option(fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(1e16, 8.64e15, 8.64e15 + 1)), { nil: undefined }), (user, expiresAtMs) => {
      const frame = JSON.parse(authenticatedFrame(user, ['read'], expiresAtMs)) as { expires_at: string | null; user: string };
      expect(frame.user).toBe(user);
      if (expiresAtMs === undefined) expect(frame.expires_at).toBeNull();
      else if (Math.abs(expiresAtMs) <= 8.64e15) expect(frame.expires_at).toBe(new Date(expiresAtMs).toISOString());
    }), { numRuns: 1000 });
  });

  it('a status frame never throws: since is the ISO time of a representable date, else null', () => {
    fc.assert(fc.property(fc.oneof(fc.double(), fc.integer(), fc.constantFrom(8.64e15, 8.64e15 + 1, -8.64e15, NaN, Infinity)), (since) => {
      const frame = JSON.parse(statusFrame('A', 'stale', since)) as { since: string | null };
      expect(frame.since).toBe(Number.isFinite(since) && Math.abs(since) <= 8.64e15 ? new Date(since).toISOString() : null);
    }), { numRuns: 1000 });
  });
});
