// Cache keys: compiled from a namespace's pattern (`price:{asset_type}:{symbol}`), built and checked in one place.
//
// Keys are never formatted by hand, and that is enforced by construction: the service takes
// (namespace, params) and builds the key here. A pattern is colon-separated segments, each a
// literal or one `{placeholder}`; the first segment is a literal "tag" unique to the namespace,
// so a key (and an invalidation message) maps back to one namespace.
//
// Values are checked because they end up in Redis key names and SCAN globs:
//   - 1..128 printable ASCII characters, no whitespace;
//   - none of `* ? [ ] \`: a value must never act as a glob in SCAN MATCH or in pattern
//     invalidation (a symbol "*" would otherwise invalidate everything);
//   - no `:` except in the pattern's final placeholder: `chart:{symbol}:{timeframe}` with symbol
//     "A:1D" would forge another key's shape, while the last segment cannot be confused.

import { CacheKeyError, CachePatternError } from './errors.js';

/** Key parameters: placeholder name → value. Numbers are formatted with String(). */
export type Params = Readonly<Record<string, string | number>>;

export const MAX_VALUE_LENGTH = 128;
export const MAX_PATTERN_LENGTH = 512;

/** Keys memoised per pattern before the memo starts over. */
const MEMO_MAX = 10_000;

type Memo = Map<unknown, unknown>;

const TAG = /^[a-z][a-z0-9_]{0,39}$/;
const LITERAL = /^[a-z0-9_.-]{1,64}$/;
const PLACEHOLDER = /^\{([a-z][a-z0-9_]{0,39})\}$/;

export class KeyPattern {
  /** The first, literal segment: `price` of `price:{asset_type}:{symbol}`. */
  readonly tag: string;
  /** Placeholder names in order. */
  readonly names: readonly string[];
  /** literals[i] precedes names[i]; literals[names.length] ends the key (often ''). */
  private readonly literals: string[];
  private readonly lastAllowsColon: boolean;
  private readonly parser: RegExp;
  private memo: Memo = new Map();
  private memoSize = 0;

  /** Throws TypeError naming the problem; namespaces.ts turns it into a ConfigError. */
  constructor(readonly namespace: string, readonly pattern: string) {
    const segments = pattern.split(':');
    if (!TAG.test(segments[0])) {
      throw new TypeError(`key pattern "${pattern}" must start with a literal tag of [a-z0-9_] (e.g. "price:{symbol}")`);
    }
    const names: string[] = [];
    const literals: string[] = [];
    let pending = segments[0];
    const parserParts: string[] = [escapeRegExp(segments[0])];
    for (let i = 1; i < segments.length; i++) {
      const seg = segments[i];
      const ph = PLACEHOLDER.exec(seg);
      if (ph) {
        if (names.includes(ph[1])) throw new TypeError(`key pattern "${pattern}" repeats placeholder {${ph[1]}}`);
        literals.push(pending + ':');
        names.push(ph[1]);
        pending = '';
        parserParts.push(':', i === segments.length - 1 ? '(.+)' : '([^:]+)');
      } else if (LITERAL.test(seg)) {
        pending += ':' + seg;
        parserParts.push(':', escapeRegExp(seg));
      } else {
        throw new TypeError(`key pattern "${pattern}": segment "${seg}" is neither a literal of [a-z0-9_.-] nor one {placeholder}`);
      }
    }
    literals.push(pending);
    this.tag = segments[0];
    this.names = Object.freeze(names);
    this.literals = literals;
    this.lastAllowsColon = names.length > 0 && pending === '';
    this.parser = new RegExp(`^${parserParts.join('')}$`);
  }

  /**
   * The key for `params` (without the Redis prefix). Hot path (every memory-tier hit): a memo of
   * keys already built (nested maps, one level per placeholder) answers without validating or
   * concatenating again, and returns the same string object each time, whose hash V8 has cached
   * — so the LRU's Map lookup does not rehash a fresh string either. Bounded: cleared at
   * MEMO_MAX keys. Only validated values ever enter the memo.
   */
  build(params: Params): string {
    const names = this.names;
    const last = names.length - 1;
    if (last < 0) return this.literals[0];
    let node = this.memo;
    for (let i = 0; i < last; i++) {
      const next = node.get(params[names[i]]);
      if (next === undefined) return this.buildSlow(params);
      node = next as Memo;
    }
    const key = node.get(params[names[last]]);
    return key === undefined ? this.buildSlow(params) : (key as string);
  }

  private buildSlow(params: Params): string {
    const names = this.names;
    const lits = this.literals;
    let key = lits[0];
    for (let i = 0; i < names.length; i++) {
      const raw = params[names[i]];
      const v = typeof raw === 'string' ? raw : typeof raw === 'number' && Number.isFinite(raw) ? String(raw) : undefined;
      if (v === undefined) throw new CacheKeyError(this.namespace, names[i], raw === undefined ? 'is required' : 'must be a string or a finite number');
      checkValue(this.namespace, names[i], v, this.lastAllowsColon && i === names.length - 1);
      key += v + lits[i + 1];
    }
    if (this.memoSize >= MEMO_MAX) {
      this.memo = new Map();
      this.memoSize = 0;
    }
    let node = this.memo;
    for (let i = 0; i < names.length - 1; i++) {
      const v = params[names[i]];
      let next = node.get(v) as Memo | undefined;
      if (next === undefined) node.set(v, (next = new Map()));
      node = next;
    }
    node.set(params[names[names.length - 1]], key);
    this.memoSize++;
    return key;
  }

  /** The params of a key built by this pattern, or undefined if it is not one of ours. */
  parse(key: string): Record<string, string> | undefined {
    const m = this.parser.exec(key);
    if (!m) return undefined;
    const out: Record<string, string> = {};
    for (let i = 0; i < this.names.length; i++) out[this.names[i]] = m[i + 1];
    return out;
  }

  /** A glob matching this namespace's keys, with the given params fixed and the others `*`. */
  glob(partial: Readonly<Record<string, string | number | undefined>> = {}): string {
    let g = this.literals[0];
    for (let i = 0; i < this.names.length; i++) {
      const raw = partial[this.names[i]];
      if (raw === undefined) g += '*';
      else {
        const v = String(raw);
        checkValue(this.namespace, this.names[i], v, this.lastAllowsColon && i === this.names.length - 1);
        g += v;
      }
      g += this.literals[i + 1];
    }
    return g;
  }
}

/** Throws CacheKeyError unless v is a valid key value (see the top of this file). Exported for index keys. */
export function checkValue(namespace: string, name: string, v: string, colonAllowed = false): void {
  const n = v.length;
  if (n === 0 || n > MAX_VALUE_LENGTH) throw new CacheKeyError(namespace, name, `must be 1-${MAX_VALUE_LENGTH} characters, got ${n}`);
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    // 0x21..0x7e printable ASCII; 0x2a * 0x3f ? 0x5b [ 0x5d ] 0x5c \ are glob syntax; 0x3a is ':'.
    if (c < 0x21 || c > 0x7e || c === 0x2a || c === 0x3f || c === 0x5b || c === 0x5d || c === 0x5c || (c === 0x3a && !colonAllowed)) {
      throw new CacheKeyError(namespace, name, `character ${JSON.stringify(v[i])} at ${i} is not allowed (printable ASCII except * ? [ ] \\${colonAllowed ? '' : ' and :'})`);
    }
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
}

/**
 * Checks a Redis-style glob (`stock_price:AAPL*`, `price:?:BTC`, `signal:[ab]*`) and returns the
 * RegExp that matches the same keys in the memory tier. No `\` escapes: keys never contain glob
 * characters, so there is nothing to escape. Throws CachePatternError naming the problem.
 */
export function globToRegExp(glob: string): RegExp {
  if (glob.length === 0 || glob.length > MAX_PATTERN_LENGTH) throw new CachePatternError(`pattern must be 1-${MAX_PATTERN_LENGTH} characters, got ${glob.length}`);
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i];
    const c = glob.charCodeAt(i);
    if (c < 0x21 || c > 0x7e || ch === '\\') throw new CachePatternError(`pattern character ${JSON.stringify(ch)} at ${i} is not allowed`);
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else if (ch === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) throw new CachePatternError(`pattern has "[" at ${i} without a closing "]"`);
      let body = glob.slice(i + 1, end);
      const negate = body.startsWith('^');
      if (negate) body = body.slice(1);
      if (!/^[A-Za-z0-9_.:-]+$/.test(body)) throw new CachePatternError(`pattern class [${body}] may only hold [A-Za-z0-9_.:-]`);
      for (let j = 0; j + 2 < body.length; j++) {
        // A reversed range (`[z-a]`) matches nothing in Redis and is a syntax error to RegExp.
        if (body[j + 1] === '-' && body.charCodeAt(j) > body.charCodeAt(j + 2)) {
          throw new CachePatternError(`pattern class [${body}] has a reversed range ${body.slice(j, j + 3)}`);
        }
      }
      // Inside a class only `-` ranges matter; escape nothing else (the alphabet above has no specials but `.`).
      re += `[${negate ? '^' : ''}${body}]`;
      i = end;
    } else if (ch === ']') throw new CachePatternError(`pattern has "]" at ${i} without an opening "["`);
    else re += escapeRegExp(ch);
  }
  return new RegExp(re + '$');
}

/** The text of a glob before its first wildcard: `stock_price:AAPL*` → `stock_price:AAPL`. */
export function literalPrefix(glob: string): string {
  const i = glob.search(/[*?[]/);
  return i < 0 ? glob : glob.slice(0, i);
}

/** Whether a glob with this literal prefix can match keys of a namespace with this tag. */
export function prefixMayMatchTag(prefix: string, tag: string): boolean {
  return tag.startsWith(prefix) || prefix === tag || prefix.startsWith(tag + ':');
}
