// The pure rules of access control: scopes against AUTH modes, browser origins, credential headers, the per-connection message rate.
import { describe, expect, it } from 'vitest';
import { credentialOf } from '../../src/auth/authenticator.js';
import { AuthError } from '../../src/auth/errors.js';
import { ANONYMOUS_ADMIN, ANONYMOUS_READER, type Identity, hasScope, mayActFor, parseScopes } from '../../src/auth/identity.js';
import { OriginPolicy } from '../../src/auth/origins.js';
import { authorize } from '../../src/auth/policy.js';
import { MessageRate, RateVerdict } from '../../src/actors/front/message-rate.js';
import type { HttpRequest } from '../../src/protocol/http.js';

const who = (scopes: Identity['scopes'], user = 'u1'): Identity => ({ kind: 'key', id: 'key:1', name: 'k', user, scopes });

describe('scopes', () => {
  it('nest: write reads, admin does anything; parseScopes names a bad one', () => {
    expect(hasScope(who(['write']), 'read')).toBe(true);
    expect(hasScope(who(['write']), 'admin')).toBe(false);
    expect(hasScope(who(['admin']), 'write')).toBe(true);
    expect(parseScopes('read, write write')).toEqual(['read', 'write']);
    expect(() => parseScopes(['read', 'root'])).toThrow(/unknown scope "root"/);
  });

  it('lets a user act for themselves only, an admin for anyone, nobody for an empty user', () => {
    expect(mayActFor(who(['read'], 'alice'), 'alice')).toBe(true);
    expect(mayActFor(who(['write'], 'alice'), 'bob')).toBe(false);
    expect(mayActFor(who(['admin'], ''), 'bob')).toBe(true);
    expect(mayActFor(who(['write'], ''), '')).toBe(false);
  });
});

describe('authorize', () => {
  const status = (r: Identity | AuthError) => (r instanceof AuthError ? r.status : 200);

  it('AUTH=writes: anonymous reads pass, anonymous writes and owned reads are 401, a weaker scope is 403', () => {
    expect(authorize('writes', 'read', undefined)).toBe(ANONYMOUS_READER);
    expect(status(authorize('writes', 'write', undefined))).toBe(401);
    expect(status(authorize('writes', 'read:own', undefined))).toBe(401);
    expect(status(authorize('writes', 'admin', who(['write'])))).toBe(403);
    expect(status(authorize('writes', 'admin', who(['admin'])))).toBe(200);
  });

  it('AUTH=all: everything but public needs a credential', () => {
    expect(status(authorize('all', 'read', undefined))).toBe(401);
    expect(status(authorize('all', 'public', undefined))).toBe(200);
    expect(status(authorize('all', 'read', who(['read'])))).toBe(200);
  });

  it('AUTH=off: everyone is an admin, a credential keeps its identity', () => {
    expect(authorize('off', 'admin', undefined)).toBe(ANONYMOUS_ADMIN);
    expect(authorize('off', 'admin', who(['read']))).toMatchObject({ user: 'u1' });
  });
});

describe('OriginPolicy', () => {
  const p = new OriginPolicy(['https://app.example.com']);

  it('allows requests without Origin, the same origin (default ports folded), and listed origins', () => {
    expect(p.allows('', 'localhost:8000')).toBe(true);
    expect(p.allows('http://localhost:8000', 'localhost:8000')).toBe(true);
    expect(p.allows('https://trade.example.com', 'trade.example.com:443')).toBe(true);
    expect(p.allows('https://APP.example.com', 'x')).toBe(true);
    expect(p.isCrossOriginAllowed('https://app.example.com')).toBe(true);
  });

  it('refuses other origins, look-alikes and a scheme change', () => {
    expect(p.allows('https://evil.example', 'localhost:8000')).toBe(false);
    expect(p.allows('https://app.example.com.evil.example', 'x')).toBe(false);
    expect(p.allows('https://localhost:8000', 'localhost:8000')).toBe(true); // host matches; the scheme is the proxy's
    expect(p.allows('null', 'localhost:8000')).toBe(false);
    expect(p.isCrossOriginAllowed('http://localhost:8000')).toBe(false);
    expect(new OriginPolicy(['*']).allows('https://anything.example', 'x')).toBe(true);
  });
});

describe('credentialOf', () => {
  const req = (headers: Record<string, string>) => {
    const m = new Map(Object.entries(headers));
    return { header: (n: string) => m.get(n.toLowerCase()) ?? '', headers: m } as unknown as HttpRequest;
  };

  it('reads X-API-Key first, then a Bearer token; a malformed Authorization is an empty credential, not none', () => {
    expect(credentialOf(req({}))).toBeUndefined();
    expect(credentialOf(req({ 'x-api-key': ' tp_k ', authorization: 'Bearer other' }))).toBe('tp_k');
    expect(credentialOf(req({ authorization: 'bearer   abc.def.ghi ' }))).toBe('abc.def.ghi');
    expect(credentialOf(req({ authorization: 'Basic dXNlcjpwYXNz' }))).toBe('');
    expect(credentialOf(req({ authorization: 'Bearer a b' }))).toBe('');
  });
});

describe('MessageRate', () => {
  it('allows a burst, then the sustained rate; tells once per run of refusals; calls a burst of refusals flooding', () => {
    const rate = new MessageRate(10, 5);
    const s = rate.initial(0);
    const at = (t: number, n: number) => Array.from({ length: n }, () => rate.take(s, t));
    expect(at(0, 5).every((v) => v === RateVerdict.Allowed)).toBe(true);
    expect(at(0, 2)).toEqual([RateVerdict.RefusedFirst, RateVerdict.Refused]);
    expect(at(100, 1)).toEqual([RateVerdict.Allowed]); // 100 ms at 10/s: one token back
    expect(at(100, 5)).toEqual([RateVerdict.RefusedFirst, RateVerdict.Refused, RateVerdict.Refused, RateVerdict.Refused, RateVerdict.Flooding]);
  });

  it('never holds more than the burst, however long the connection was quiet', () => {
    const rate = new MessageRate(1000, 3);
    const s = rate.initial(0);
    expect([0, 0, 0, 0].map(() => rate.take(s, 3_600_000))).toEqual([RateVerdict.Allowed, RateVerdict.Allowed, RateVerdict.Allowed, RateVerdict.RefusedFirst]);
  });
});
