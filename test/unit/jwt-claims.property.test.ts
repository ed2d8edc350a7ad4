// Property tests of the JWT claims → identity mapping, and of verification: any payload gives an identity or an AuthError naming the claim, never anything else.
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { AuthError } from '../../src/auth/errors.js';
import { SCOPES } from '../../src/auth/identity.js';
import { JwtVerifier, identityFromClaims } from '../../src/auth/jwt.js';

const scope = fc.constantFrom(...SCOPES);
const symbol = fc.stringMatching(/^[A-Za-z0-9._:/-]{1,32}$/);
const validClaims = fc.record({
  sub: fc.string({ minLength: 1, maxLength: 128 }),
  exp: fc.integer({ min: 0, max: 253_402_300_799 }),
  scopes: fc.oneof(fc.uniqueArray(scope, { minLength: 1 }), fc.uniqueArray(scope, { minLength: 1 }).map((s) => s.join(' '))),
  symbols: fc.option(fc.array(symbol, { maxLength: 20 }), { nil: undefined }),
});

describe('identityFromClaims', () => {
  it('maps valid claims to the identity they describe', () => {
    fc.assert(fc.property(validClaims, (c) => {
      const id = identityFromClaims(c);
      const scopes = typeof c.scopes === 'string' ? c.scopes.split(' ') : c.scopes;
      expect(id).toMatchObject({ kind: 'jwt', user: c.sub, name: c.sub, id: `jwt:${c.sub}`, expiresAtMs: c.exp * 1000 });
      expect([...id.scopes].sort()).toEqual([...new Set(scopes)].sort());
      expect(id.symbols).toEqual(c.symbols);
    }));
  });

  it('answers any other payload with an AuthError that names a claim, never another exception', () => {
    fc.assert(fc.property(fc.dictionary(fc.constantFrom('sub', 'exp', 'scopes', 'scope', 'symbols', 'other'), fc.anything()), (c) => {
      try {
        const id = identityFromClaims(c);
        // Accepted: then it really was valid.
        expect(typeof c.sub).toBe('string');
        expect(id.scopes.length).toBeGreaterThan(0);
      } catch (e) {
        expect(e).toBeInstanceOf(AuthError);
        expect((e as AuthError).status).toBe(401);
        expect((e as Error).message).toMatch(/^token claim (sub|exp|scopes|symbols):/);
      }
    }));
  });
});

describe('JwtVerifier', () => {
  const secret = 'property-test-secret-of-32-characters!!';
  const verifier = JwtVerifier.load({ secret })!;

  it('refuses any string that is not a token it signed, with an AuthError that does not quote it', async () => {
    await fc.assert(fc.asyncProperty(fc.oneof(fc.string(), fc.base64String(), fc.tuple(fc.base64String(), fc.base64String(), fc.base64String()).map((p) => p.join('.'))), async (t) => {
      const e = await verifier.verify(t).then(() => undefined, (x: unknown) => x);
      expect(e).toBeInstanceOf(AuthError);
      if (t.length > 8) expect((e as Error).message).not.toContain(t);
    }), { numRuns: 200 });
  });

  it('accepts what it signed, and refuses it once any character of the signature changes', async () => {
    const token = await new SignJWT({ sub: 'u', scopes: ['read'] }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(secret));
    expect((await verifier.verify(token)).user).toBe('u');
    const sigAt = token.lastIndexOf('.') + 1;
    await fc.assert(fc.asyncProperty(fc.integer({ min: sigAt, max: token.length - 2 }), fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), async (i, ch) => {
      fc.pre(token[i] !== ch);
      const forged = token.slice(0, i) + ch + token.slice(i + 1);
      await expect(verifier.verify(forged)).rejects.toBeInstanceOf(AuthError);
    }), { numRuns: 100 });
  });
});
