// API keys: their format, hashing, and the store that keeps only their hashes.
//
// A key is `tp_<id>_<secret>`: `id` (8 hex characters) names it in listings, logs and rate
// limits; the whole key is shown once, at creation, and only its SHA-256 is stored. Keys are
// 256-bit random, so a fast hash is enough (no password-stretching needed against guessing).

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
