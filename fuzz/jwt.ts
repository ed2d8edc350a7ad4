// Signed JWTs with odd claims: with the server's JWT_SECRET, tokens pass the signature check and reach the claim checks behind it.
//
// Garbage tokens only ever test the first refusal. A token signed with the right secret but
// an expiry at the edge of what a Date holds, scopes that do not exist or a `sub` of the
// wrong type tests everything after verification.
import { createHmac } from 'node:crypto';
import type { Rng } from './rng.js';
import * as v from './values.js';

const b64 = (x: unknown) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');

/** HS256 over whatever header and claims it is given (a header claiming another alg is signed with HS256 all the same). */
export function signHs256(secret: string, header: unknown, claims: unknown): string {
  const body = `${b64(header)}.${b64(claims)}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

function expiry(rng: Rng): unknown {
  const now = Math.floor(Date.now() / 1000);
  return rng.weighted<() => unknown>([
    [6, () => now + 3600],
    [2, () => now + rng.int(1, 20)], // expires during the run: the token_expired path
    [2, () => now - rng.int(1, 1e6)],
    // Beyond what a Date can hold once multiplied to milliseconds (8.64e15 ms).
    [2, () => rng.pick([8.64e12, 8.64e12 + 1, 1e13, 1e15, 1e300, Number.MAX_SAFE_INTEGER, 2 ** 53 + 2])],
    [1, () => rng.pick([0, -1, 1.5, -8.64e12 - 1])],
    [1, () => rng.pick([String(now + 3600), null, true, [now + 3600], {}])],
    [1, () => undefined],
  ])();
}

/** A token signed with `secret` (sometimes tampered), its claims mostly valid, one or two of them odd. */
export function signedToken(rng: Rng, secret: string, symbols: readonly string[]): string {
  const claims: Record<string, unknown> = {
    sub: rng.chance(0.8) ? `user${rng.int(1, 5)}` : rng.pick(['', 'u'.repeat(129), 42, null, v.string(rng, 40)]),
    exp: expiry(rng),
  };
  const scopes = rng.weighted<() => unknown>([
    [5, () => rng.pick([['read'], ['read', 'write'], ['admin'], ['write']])],
    [1, () => rng.pick(['read write', 'admin', '', ' ', 'read,write'])],
    [1, () => rng.pick([[], ['root'], ['read', 'READ'], [1], 'x', null, {}])],
  ])();
  if (rng.chance(0.7)) claims.scopes = scopes;
  else claims.scope = scopes;
  if (rng.chance(0.3)) {
    claims.symbols = rng.weighted<() => unknown>([
      [3, () => symbols.slice(0, rng.int(0, symbols.length))],
      [1, () => ['*', 'US.AAPL', '']],
      [1, () => v.json(rng, 2)],
    ])();
  }
  if (rng.chance(0.2)) claims.nbf = Math.floor(Date.now() / 1000) + rng.pick([-100, 100, 1e12]);
  if (rng.chance(0.2)) claims.iat = rng.pick([0, Math.floor(Date.now() / 1000), 1e13]);
  if (rng.chance(0.1)) claims.iss = v.string(rng, 20);
  if (rng.chance(0.1)) claims.aud = rng.pick(['tickplant', ['a', 'b'], 5]);
  if (rng.chance(0.05)) claims[v.string(rng, 10)] = v.json(rng, 3);
  const header = rng.weighted<() => Record<string, unknown>>([
    [10, () => ({ alg: 'HS256', typ: 'JWT' })],
    [1, () => ({ alg: rng.pick(['none', 'HS512', 'RS256', 'hs256', '']), typ: 'JWT' })],
    [1, () => ({ alg: 'HS256', kid: v.string(rng, 20), crit: rng.pick([['exp'], ['b64'], []]) })],
  ])();
  const token = signHs256(secret, header, claims);
  if (rng.chance(0.05)) return token.slice(0, -2) + (token.endsWith('A') ? 'BB' : 'AA');
  if (rng.chance(0.03)) return token.slice(0, token.lastIndexOf('.') + 1);
  return token;
}
