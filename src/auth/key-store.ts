// Where API keys live: PostgreSQL (table api_keys) when persisting, else DATA_DIR/api-keys.json; openKeyStore picks.
//
// Both stores keep only SHA-256 hashes (api-keys.ts). Readers (the front, every few seconds)
// call active() and index the records by `hash`; writers are the `npm run keys` CLI and the
// first-start admin key (admin-key.ts).

import { join } from 'node:path';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { KeyStore } from './api-keys.js';
import { FileKeyStore } from './key-store-file.js';
import { PgKeyStore } from './key-store-pg.js';

export type { ApiKeyRecord, KeyStore } from './api-keys.js';
export { ApiKeyError, validateKeyRequest } from './key-store-rules.js';

/** The key file of PERSIST=false, inside DATA_DIR. */
export const KEY_FILE = 'api-keys.json';

export interface OpenKeyStoreOptions {
  /**
   * The database to use when `cfg.persist`: the embedded server's URL when DATABASE_URL is
   * unset (the supervisor's, or the one the CLI reached). Default: `cfg.databaseUrl`.
   */
  databaseUrl?: string;
  /** Where the PostgreSQL pool reports a connection lost while idle. */
  log?: Logger;
}

/**
 * The store tickplant is configured for: PostgreSQL when `cfg.persist` (the schema is migrated
 * first, so it works before or without the writer), else `DATA_DIR/api-keys.json`.
 */
export async function openKeyStore(cfg: Config, opts: OpenKeyStoreOptions = {}): Promise<KeyStore> {
  if (!cfg.persist) return new FileKeyStore(join(cfg.dataDir, KEY_FILE));
  const url = opts.databaseUrl ?? cfg.databaseUrl;
  if (!url) throw new TypeError('openKeyStore: PERSIST is on and DATABASE_URL is unset: pass the embedded server\'s URL as databaseUrl');
  return PgKeyStore.open(url, { timescale: cfg.timescale, compressAfter: cfg.compressAfter, retention: cfg.retention, marketTimeZone: cfg.marketTimeZone }, opts.log);
}
