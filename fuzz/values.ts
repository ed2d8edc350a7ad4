// Random values that parsers meet badly: odd strings, huge and tiny numbers, deep and wide JSON, near-miss identifiers.
import type { Rng } from './rng.js';

/** Number literals as text: several are not representable (1e400 parses to Infinity, 2^53+1 rounds). */
const NUMBER_TEXTS = [
  '0', '-0', '1', '-1', '0.5', '1.5', '1e3', '1E-7', '1e308', '-1e308', '1e309', '1e400', '-1e400', '5e-324', '1e-400',
  '9007199254740991', '9007199254740992', '9007199254740993', '-9007199254740993', '18446744073709551616',
  '4294967295', '4294967296', '2147483647', '2147483648', '-2147483649', '123456789012345678901234567890',
  '0.1000000000000000055511151231257827', '3600', '3601', '1000', '86400000', '1795436886794', '00', '01', '-', '1.', '.5', '+1', '0x10',
  'NaN', 'Infinity', '-Infinity', '1e', '1e+', '1_000',
];

/** Numbers as JavaScript values (what JSON.stringify will write). */
const NUMBERS = [
  0, -0, 1, -1, 2, 0.5, 1.5, 1e3, 1e308, -1e308, 5e-324, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2,
  -Number.MAX_SAFE_INTEGER, 2 ** 31, 2 ** 32, 2 ** 63, 2 ** 64, 3600, 3601, 59, 60, 61, 1795436886794, Date.now(),
];

/** Characters that break naive handling: quotes, escapes, separators, NUL, bidi, lone surrogates, emoji. */
const NASTY = [
  '"', '\\', '/', ':', '*', '?', '[', ']', '{', '}', ',', '%', '%00', '%2F', '%ff', '..', '\0', '\n', '\r', '\t', ' ', '\u00a0',
  '\u2028', '\u202e', '\ufeff', '\ud800', '\udfff', '\ud83d\ude00', 'é', 'Ü', '漢', '\u0301', '\x7f', '\x1b[31m', '${x}', '<script>', "'", '`',
];

export function numberText(rng: Rng): string {
  return rng.chance(0.7) ? rng.pick(NUMBER_TEXTS) : String(rng.pick(NUMBERS) * (rng.chance(0.5) ? 1 : rng.int(-1000, 1000)));
}

export function number(rng: Rng): number {
  if (rng.chance(0.5)) return rng.pick(NUMBERS);
  return rng.weighted<() => number>([
    [3, () => rng.int(-10, 100_000)],
    [1, () => rng.float() * 10 ** rng.int(-10, 20)],
    [1, () => -rng.float() * 10 ** rng.int(-10, 20)],
  ])();
}

/** A string of `n` characters from one of several alphabets (ASCII, control, unicode, nasty pieces). */
export function string(rng: Rng, maxLen = 40): string {
  const n = rng.skewed(maxLen + 1);
  const kind = rng.int(0, 4);
  let s = '';
  while (s.length < n) {
    switch (kind) {
      case 0: s += String.fromCharCode(rng.int(0x20, 0x7e)); break;
      case 1: s += String.fromCharCode(rng.int(0, 0xff)); break;
      case 2: s += String.fromCharCode(rng.int(0, 0xffff)); break;
      case 3: s += rng.pick(NASTY); break;
      default: s += rng.chance(0.8) ? String.fromCharCode(rng.int(0x61, 0x7a)) : rng.pick(NASTY);
    }
  }
  return s;
}

/** A near miss of `valid`: case changed, cut, padded, one character swapped, nasty characters added. */
export function mutateString(rng: Rng, valid: string): string {
  switch (rng.int(0, 9)) {
    case 0: return valid.toLowerCase();
    case 1: return valid.toUpperCase();
    case 2: return valid.slice(0, rng.int(0, Math.max(0, valid.length - 1)));
    case 3: return valid + rng.pick(NASTY);
    case 4: return rng.pick(NASTY) + valid;
    case 5: return ` ${valid} `;
    case 6: {
      const i = rng.int(0, Math.max(0, valid.length - 1));
      return valid.slice(0, i) + String.fromCharCode(rng.int(0, 0x2ff)) + valid.slice(i + 1);
    }
    case 7: return valid.repeat(rng.int(2, 40));
    case 8: return valid + 'X'.repeat(rng.int(1, 200));
    default: return string(rng);
  }
}

/** Any JSON value, up to `depth` levels deep. */
export function json(rng: Rng, depth = 3): unknown {
  const leafOnly = depth <= 0;
  switch (rng.int(0, leafOnly ? 4 : 6)) {
    case 0: return null;
    case 1: return rng.chance(0.5);
    case 2: return number(rng);
    case 3: return string(rng);
    case 4: return rng.pick(['subscribe', 'unsubscribe', 'ping', 'auth', 'none', '1m', '', 'US.AAPL', 'BTC-USD']);
    case 5: return Array.from({ length: rng.skewed(8) }, () => json(rng, depth - 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = rng.skewed(8); i > 0; i--) {
        // defineProperty: an assignment to "__proto__" would set the prototype instead of adding the key.
        Object.defineProperty(o, rng.chance(0.5) ? rng.pick(FIELD_NAMES) : string(rng, 12), { value: json(rng, depth - 1), enumerable: true, writable: true, configurable: true });
      }
      return o;
    }
  }
}

const FIELD_NAMES = ['action', 'symbol', 'resolution', 'resume', 'seq', 'epoch', 'id', 'token', 'type', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'last_seq'];

/** JSON text nested `depth` levels: `[[[…]]]` or `{"a":{"a":…}}`, optionally around a real message. */
export function deepJsonText(rng: Rng, depth: number): string {
  const inner = rng.chance(0.5) ? '{"action":"ping"}' : rng.chance(0.5) ? '1' : 'null';
  if (rng.chance(0.5)) return '['.repeat(depth) + inner + ']'.repeat(depth);
  const key = rng.pick(FIELD_NAMES);
  return `{"${key}":`.repeat(depth) + inner + '}'.repeat(depth);
}

/** A JSON object with `n` members, many of them repeating the same key (the last one wins in JSON.parse). */
export function wideJsonText(rng: Rng, n: number, head: string): string {
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const key = rng.chance(0.3) ? rng.pick(FIELD_NAMES) : `k${i}`;
    parts.push(`${JSON.stringify(key)}:${rng.chance(0.5) ? numberText(rng) : JSON.stringify(string(rng, 8))}`);
  }
  return `{${head}${head && parts.length ? ',' : ''}${parts.join(',')}}`;
}

/** Bytes that are not valid UTF-8: lone continuation bytes, overlongs, surrogates, truncated sequences, 0xFE/0xFF. */
export function invalidUtf8(rng: Rng, around = ''): Buffer {
  const bad = rng.pick([
    [0x80], [0xbf], [0xc0, 0xaf], [0xc1, 0xbf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf],
    [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80, 0x80, 0x80], [0xfe], [0xff], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xc3],
  ]);
  const text = Buffer.from(around, 'utf8');
  const at = rng.int(0, text.length);
  return Buffer.concat([text.subarray(0, at), Buffer.from(bad), text.subarray(at)]);
}

/** A token-shaped string: JWT-like with garbage parts, `alg: none`, API-key-like, or plain garbage. */
export function garbageToken(rng: Rng, realKey?: string): string {
  const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
  return rng.weighted<() => string>([
    [3, () => `${b64({ alg: rng.pick(['HS256', 'RS256', 'ES256', 'none', 'None', '', 'HS512']), typ: 'JWT' })}.${b64({
      sub: string(rng, 20), exp: rng.chance(0.5) ? number(rng) : Math.floor(Date.now() / 1000) + 3600, scope: rng.pick(['read', 'write', 'admin', 'read write admin', '*']),
      iat: number(rng), aud: string(rng, 10), symbols: rng.chance(0.3) ? ['*'] : undefined,
    })}.${rng.chance(0.3) ? '' : b64(rng.bytes(rng.int(0, 64)).toString('latin1'))}`],
    [1, () => `${b64(json(rng, 2))}.${b64(json(rng, 2))}.${b64(string(rng, 40))}`],
    [1, () => 'a.b.c'],
    [2, () => `tp_${rng.bytes(4).toString('hex')}_${rng.bytes(rng.int(0, 40)).toString('hex')}`],
    [1, () => (realKey ? mutateString(rng, realKey) : `tp_${'0'.repeat(8)}_${'f'.repeat(64)}`)],
    [2, () => string(rng, 200)],
    [1, () => 'x'.repeat(rng.pick([1, 1000, 4000, 8192, 20000]))],
  ])();
}

/** encodeURIComponent that accepts lone surrogates (it throws on them): they become U+FFFD. */
export function uriEncode(s: string): string {
  return encodeURIComponent(s.toWellFormed());
}

/** Any value as text; String() throws on objects whose `toString` is not a function (JSON can make those). */
export function text(x: unknown): string {
  return typeof x === 'string' ? x : (JSON.stringify(x) ?? 'undefined');
}
