// Cache keys and patterns, property-based: keys round-trip through parse, never collide or cross namespaces, and globs match what Redis would.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CacheKeyError, CachePatternError } from '../../src/cache/errors.js';
import { KeyPattern, MAX_VALUE_LENGTH, checkValue, globToRegExp, literalPrefix, prefixMayMatchTag } from '../../src/cache/keys.js';

/** The value alphabet: printable ASCII without glob characters (`:` only where the pattern allows it). */
const VALUE_CHARS = [...Array(0x7e - 0x20).keys()].map((i) => String.fromCharCode(0x21 + i)).filter((c) => !'*?[]\\'.includes(c));
const valueChar = fc.constantFrom(...VALUE_CHARS.filter((c) => c !== ':'));
const value = fc.string({ unit: valueChar, minLength: 1, maxLength: 20 });
const lastValue = fc.string({ unit: fc.constantFrom(...VALUE_CHARS), minLength: 1, maxLength: 20 });
const tag = fc.stringMatching(/^[a-z][a-z0-9_]{0,12}$/);
const literal = fc.stringMatching(/^[a-z0-9_.-]{1,8}$/);
const name = fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/);

/** A pattern: a tag, then literal segments and distinct placeholders in any order. */
const pattern = fc.tuple(tag, fc.array(fc.oneof(literal.map((l) => ({ l })), name.map((p) => ({ p }))), { maxLength: 5 }))
  .map(([t, segs]) => {
    const seen = new Set<string>();
    const parts = [t];
    for (const s of segs) {
      if ('l' in s) parts.push(s.l);
      else if (!seen.has(s.p)) {
        seen.add(s.p);
        parts.push(`{${s.p}}`);
      }
    }
    return parts.join(':');
  });

/** A pattern with a set of valid params for it. */
const keyed = pattern.chain((p) => {
  const kp = new KeyPattern('ns', p);
  const lastIsPlaceholder = kp.names.length > 0 && p.endsWith('}');
  const params = kp.names.map((n, i) => (lastIsPlaceholder && i === kp.names.length - 1 ? lastValue : fc.oneof(value, fc.nat({ max: 1e6 }))).map((v) => [n, v] as const));
  return fc.tuple(fc.constant(kp), fc.tuple(...params).map((e) => Object.fromEntries(e) as Record<string, string | number>));
});

/** A reference glob matcher written the simple way: * ? and [classes] with ranges, recursion on the rest. */
function globMatches(glob: string, key: string): boolean {
  if (glob === '') return key === '';
  const c = glob[0];
  if (c === '*') return [...Array(key.length + 1).keys()].some((i) => globMatches(glob.slice(1), key.slice(i)));
  if (key === '') return false;
  if (c === '?') return globMatches(glob.slice(1), key.slice(1));
  if (c === '[') {
    const end = glob.indexOf(']', 1);
    let body = glob.slice(1, end);
    const negate = body.startsWith('^');
    if (negate) body = body.slice(1);
    let hit = false;
    for (let i = 0; i < body.length; i++) {
      if (body[i + 1] === '-' && i + 2 < body.length) {
        if (key[0] >= body[i] && key[0] <= body[i + 2]) hit = true;
        i += 2;
      } else if (body[i] === key[0]) hit = true;
    }
    return hit !== negate && globMatches(glob.slice(end + 1), key.slice(1));
  }
  return c === key[0] && globMatches(glob.slice(1), key.slice(1));
}

describe('KeyPattern', () => {
  it('builds keys that parse back to their params, the same string every time', () => {
    fc.assert(fc.property(keyed, ([kp, params]) => {
      const key = kp.build(params);
      expect(kp.build(params)).toBe(key);
      expect(kp.parse(key)).toEqual(Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])));
      expect(key.startsWith(kp.tag)).toBe(true);
    }), { numRuns: 2000 });
  });

  it('gives different params different keys (no collision within a namespace)', () => {
    fc.assert(fc.property(keyed, fc.infiniteStream(fc.oneof(value, fc.nat())), ([kp, a], more) => {
      const b = Object.fromEntries(kp.names.map((n, i) => [n, i % 2 === 0 ? a[n] : more.next().value])) as Record<string, string | number>;
      const same = kp.names.every((n) => String(a[n]) === String(b[n]));
      expect(kp.build(a) === kp.build(b)).toBe(same);
    }), { numRuns: 2000 });
  });

  it('matches its own keys with its glob, and a partial glob every key with those params (no missed invalidation)', () => {
    fc.assert(fc.property(keyed, fc.func(fc.boolean()), ([kp, params], fix) => {
      const key = kp.build(params);
      expect(globToRegExp(kp.glob()).test(key)).toBe(true);
      const partial = Object.fromEntries(kp.names.filter((n) => fix(n)).map((n) => [n, params[n]]));
      expect(globToRegExp(kp.glob(partial)).test(key)).toBe(true);
    }), { numRuns: 2000 });
  });

  it('a partial glob matches no key whose fixed params differ, when no value holds a ":"', () => {
    // With a ":" in the last value a `*` before it can span two segments: such globs over-match
    // (an invalidation then drops a little more than asked), never under-match.
    fc.assert(fc.property(keyed, fc.infiniteStream(value), fc.func(fc.boolean()), fc.func(fc.boolean()), ([kp, a], more, fix, share) => {
      fc.pre(Object.values(a).every((v) => !String(v).includes(':')));
      const b = Object.fromEntries(kp.names.map((n) => [n, share(n) ? a[n] : more.next().value])) as Record<string, string | number>;
      const partial = Object.fromEntries(kp.names.filter((n) => fix(n)).map((n) => [n, a[n]]));
      const agrees = Object.keys(partial).every((n) => String(partial[n]) === String(b[n]));
      expect(globToRegExp(kp.glob(partial)).test(kp.build(b))).toBe(agrees);
    }), { numRuns: 2000 });
  });

  it('never lets a key of one namespace match the glob of another with a different tag', () => {
    fc.assert(fc.property(keyed, keyed, ([a, pa], [b]) => {
      fc.pre(a.tag !== b.tag);
      expect(globToRegExp(b.glob()).test(a.build(pa))).toBe(false);
    }), { numRuns: 2000 });
  });

  it('refuses exactly the values outside the alphabet, with a CacheKeyError naming the namespace and parameter', () => {
    const anyValue = fc.oneof(fc.string({ maxLength: MAX_VALUE_LENGTH + 2 }), fc.string({ unit: fc.integer({ min: 0, max: 0x2ff }).map((c) => String.fromCharCode(c)), maxLength: 10 }), fc.string({ unit: fc.constantFrom(...VALUE_CHARS), minLength: 120, maxLength: 130 }));
    fc.assert(fc.property(anyValue, fc.boolean(), (v, colonAllowed) => {
      const valid = v.length >= 1 && v.length <= MAX_VALUE_LENGTH && [...v].every((c) => VALUE_CHARS.includes(c) && (colonAllowed || c !== ':'));
      let error: unknown;
      try {
        checkValue('ns', 'p', v, colonAllowed);
      } catch (e) {
        error = e;
      }
      if (valid) expect(error).toBeUndefined();
      else {
        expect(error).toBeInstanceOf(CacheKeyError);
        expect((error as CacheKeyError).message).toMatch(/^ns\.p: /);
      }
    }), { numRuns: 3000 });
  });
});

describe('globToRegExp', () => {
  /** Globs over a small alphabet, so that random keys match some of them. */
  const ALPHA = ['a', 'b', ':', '1', '.', '-', '_'];
  const cls = fc.tuple(fc.boolean(), fc.array(fc.oneof(fc.constantFrom(...ALPHA.filter((c) => c !== '-')), fc.constantFrom('a-b', '0-9', 'a-z', ':-a', '.-:')), { minLength: 1, maxLength: 3 }))
    .map(([neg, parts]) => `[${neg ? '^' : ''}${parts.join('')}]`);
  const glob = fc.array(fc.oneof(fc.constantFrom(...ALPHA), fc.constant('*'), fc.constant('?'), cls), { minLength: 1, maxLength: 6 }).map((p) => p.join(''));
  const key = fc.string({ unit: fc.constantFrom(...ALPHA), maxLength: 8 });

  it('matches the same keys as a plain glob matcher (* any run, ? one character, [classes] with ranges and ^)', () => {
    fc.assert(fc.property(glob, key, (g, k) => {
      expect(globToRegExp(g).test(k), `${g} vs ${k}`).toBe(globMatches(g, k));
    }), { numRuns: 5000 });
  });

  it('returns a RegExp or throws a CachePatternError for any text, nothing else', () => {
    const classChar = fc.constantFrom(...'azAZ09_.:-');
    const ranged = fc.tuple(fc.string({ maxLength: 5 }), fc.boolean(), classChar, classChar).map(([head, neg, a, b]) => `${head}[${neg ? '^' : ''}${a}-${b}]`);
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: fc.constantFrom('[', ']', '^', '-', 'a', 'z', '_', '.', ':', '0', '9', '*'), maxLength: 10 }), ranged), (g) => {
      try {
        expect(globToRegExp(g)).toBeInstanceOf(RegExp);
      } catch (e) {
        expect(e, `globToRegExp(${JSON.stringify(g)}) threw ${(e as Error).name}: ${(e as Error).message}`).toBeInstanceOf(CachePatternError);
      }
    }), { numRuns: 5000 });
  });

  it('the literal prefix starts the glob, and every key the glob matches starts with it', () => {
    fc.assert(fc.property(glob, key, (g, k) => {
      const prefix = literalPrefix(g);
      expect(g.startsWith(prefix)).toBe(true);
      expect(prefix).not.toMatch(/[*?[]/);
      if (globToRegExp(g).test(k)) expect(k.startsWith(prefix)).toBe(true);
    }), { numRuns: 3000 });
  });

  it('a namespace whose keys a glob can match is never skipped by the prefix test (no missed invalidation)', () => {
    fc.assert(fc.property(keyed, glob, fc.boolean(), ([kp, params], g, anchored) => {
      const key = kp.build(params);
      // Anchored globs start at the tag, as invalidations usually do; others are arbitrary.
      const full = anchored ? `${kp.tag}${g}` : g;
      if (globToRegExp(full).test(key)) expect(prefixMayMatchTag(literalPrefix(full), kp.tag)).toBe(true);
    }), { numRuns: 3000 });
  });
});
