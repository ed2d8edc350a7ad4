// API key format and hashing, and what a key request may contain.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateKey, hashKey, isApiKey, parseKeyId } from '../../src/auth/api-keys.js';
import { validateKeyRequest } from '../../src/auth/key-store.js';

describe('API key format', () => {
  it('tp_<8 hex id>_<43 base64url characters: 32 random bytes>; the id is the one in the key', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const { id, key } = generateKey();
      expect(key).toMatch(/^tp_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(key.slice(12), 'base64url')).toHaveLength(32);
      expect(key.startsWith(`tp_${id}_`)).toBe(true);
      expect(isApiKey(key)).toBe(true);
      expect(parseKeyId(key)).toBe(id);
      seen.add(key);
    }
    expect(seen.size).toBe(200);
  });

  it('a secret may contain "_" and "-": the id is still the 8 characters after tp_', () => {
    const key = `tp_0badcafe_${'_-'.repeat(21)}A`;
    expect(isApiKey(key)).toBe(true);
    expect(parseKeyId(key)).toBe('0badcafe');
  });

  it('anything else is not a key', () => {
    const { key } = generateKey();
    for (const bad of ['', 'tp_', key.slice(0, -1), key + 'A', key.replace('tp_', 'tk_'), key.toUpperCase(), ` ${key}`, `Bearer ${key}`, key.replace(/_([^_]*)$/, '_$1=')]) {
      expect(isApiKey(bad), bad).toBe(false);
      expect(parseKeyId(bad), bad).toBeUndefined();
    }
  });

  it('hashKey is the SHA-256 of the whole key, hex', () => {
    const { key } = generateKey();
    expect(hashKey(key)).toBe(createHash('sha256').update(key).digest('hex'));
    expect(hashKey(key)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('validateKeyRequest', () => {
  it('normalizes scopes (deduplicated) and the user (none: "")', () => {
    expect(validateKeyRequest({ name: 'ci-bot', scopes: ['read', 'write', 'read'] })).toEqual({ name: 'ci-bot', user: '', scopes: ['read', 'write'] });
    expect(validateKeyRequest({ name: 'a', user: 'alice@example.com', scopes: ['admin'] }).user).toBe('alice@example.com');
  });

  it('refuses bad names, users and scopes with api_key_invalid, naming the field', () => {
    const bad: [Parameters<typeof validateKeyRequest>[0], RegExp][] = [
      [{ name: '', scopes: ['read'] }, /bad key name/],
      [{ name: 'has space', scopes: ['read'] }, /bad key name/],
      [{ name: '-dash-first', scopes: ['read'] }, /bad key name/],
      [{ name: 'x'.repeat(65), scopes: ['read'] }, /bad key name/],
      [{ name: 'deadbeef', scopes: ['read'] }, /would read as a key id/],
      [{ name: 'ok', user: 'two words', scopes: ['read'] }, /bad user/],
      [{ name: 'ok', scopes: ['root'] }, /unknown scope "root"/],
      [{ name: 'ok', scopes: [] }, /at least one scope/],
    ];
    for (const [req, re] of bad) {
      expect(() => validateKeyRequest(req), JSON.stringify(req)).toThrow(re);
      try {
        validateKeyRequest(req);
      } catch (e) {
        expect((e as { code: string }).code).toBe('api_key_invalid');
      }
    }
  });
});
