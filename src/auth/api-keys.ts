// API keys: their format, hashing, and the store that keeps only their hashes.
//
// A key is `tp_<id>_<secret>`: `id` (8 hex characters) names it in listings, logs and rate
// limits; the whole key is shown once, at creation, and only its SHA-256 is stored. Keys are
// 256-bit random, so a fast hash is enough (no password-stretching needed against guessing).

import { createHash, randomBytes } from 'node:crypto';
import type { Scope } from './identity.js';

export interface ApiKeyRecord {
  id: string;
  name: string;
  /** The user the key acts for; '' when none (it then owns no sessions or alerts). */
  user: string;
  scopes: Scope[];
  /** SHA-256 of the whole key, hex. */
  hash: string;
  createdAt: string;
  revokedAt?: string;
}

export interface KeyStore {
  /** Creates a key; the returned `key` is the only time it exists in clear. */
  create(opts: { name: string; user?: string; scopes: Scope[] }): Promise<{ key: string; record: ApiKeyRecord }>;
  /** Every key, revoked ones included, oldest first. */
  list(): Promise<ApiKeyRecord[]>;
  /** Revokes the key with this id or name; false when no active key has it. */
  revoke(idOrName: string): Promise<boolean>;
  /** The keys that authenticate: not revoked. */
  active(): Promise<ApiKeyRecord[]>;
  close(): Promise<void>;
}

const KEY_PATTERN = /^tp_([0-9a-f]{8})_[A-Za-z0-9_-]{43}$/;
/** 32 random bytes: base64url without padding is 43 characters. */
const SECRET_BYTES = 32;

/** A fresh key and its id. The id is random too: it says nothing about the secret or about other keys. */
export function generateKey(): { id: string; key: string } {
  const id = randomBytes(4).toString('hex');
  return { id, key: `tp_${id}_${randomBytes(SECRET_BYTES).toString('base64url')}` };
}

/**
 * SHA-256 of the whole key, hex: what the store keeps and what a presented key is looked up
 * by. A map lookup on this hash leaks nothing useful by its timing: finding a stored hash by
 * timing still leaves a 256-bit preimage to find.
 */
export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Whether `text` has the form of a key (`tp_<8 hex>_<43 base64url>`); says nothing of whether it is valid. */
export function isApiKey(text: string): boolean {
  return KEY_PATTERN.test(text);
}

/** The id part of a well-formed key; undefined for anything else. */
export function parseKeyId(key: string): string | undefined {
  return KEY_PATTERN.exec(key)?.[1];
}
