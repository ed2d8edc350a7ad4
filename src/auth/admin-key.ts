// The first-start admin key: with access control on and no active admin key, tickplant makes one, so a new install can be administered.
//
// The key is shown once: written to DATA_DIR/admin-key (mode 0600) and handed back to the
// caller, which prints it on stdout (main.ts). It never goes through the logger: log lines
// are collected and shipped, a key in them would outlive its file.

import { resolve } from 'node:path';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { ApiKeyRecord, KeyStore } from './api-keys.js';
import { ApiKeyError, openKeyStore } from './key-store.js';
import { writePrivateFile } from './key-store-file.js';

export const ADMIN_KEY_FILE = 'admin-key';
const NAME = 'admin';
/** Names tried when an active non-admin key is already called `admin`: admin-2, admin-3, … */
const MAX_NAME_SUFFIX = 9;

const CREATE_BY_HAND = '"npm run keys -- create --name admin --scopes admin"';

export interface CreatedAdminKey {
  /** The key in clear: print it once, log it never. */
  key: string;
  record: ApiKeyRecord;
  /** DATA_DIR/admin-key, absolute. */
  file: string;
  /** Why the file could not be written; the printed line is then the only copy. */
  fileError?: string;
}

/** admin is the widest scope: holding it is having it in the list. */
const isAdmin = (r: ApiKeyRecord): boolean => r.scopes.includes('admin');

/**
 * Creates an admin key named `admin` when `store` holds no active key with the admin scope,
 * and writes it to `dataDir`/admin-key. Returns it when created; undefined when one existed
 * (also when another node created one at the same moment).
 */
export async function ensureAdminKey(store: KeyStore, dataDir: string): Promise<CreatedAdminKey | undefined> {
  for (let n = 1; n <= MAX_NAME_SUFFIX; n++) {
    if ((await store.active()).some(isAdmin)) return undefined;
    let created: { key: string; record: ApiKeyRecord };
    try {
      created = await store.create({ name: n === 1 ? NAME : `${NAME}-${n}`, scopes: ['admin'] });
    } catch (e) {
      // Taken by a node that just made its admin key (the next check returns), or by a
      // non-admin key someone named `admin` (the next name is tried).
      if (e instanceof ApiKeyError && e.code === 'api_key_name_taken') continue;
      throw e;
    }
    const file = resolve(dataDir, ADMIN_KEY_FILE);
    try {
      writePrivateFile(file, created.key + '\n');
      return { ...created, file };
    } catch (e) {
      return { ...created, file, fileError: (e as Error).message };
    }
  }
  throw new ApiKeyError('api_key_name_taken', `active keys without the admin scope hold the names ${NAME} to ${NAME}-${MAX_NAME_SUFFIX}`);
}

/**
 * Start-up: ensureAdminKey on the configured store. Never fails the start: a store that cannot
 * be reached (`databaseUp` false: the writer found the database down) costs one warning line
 * saying how to make the key by hand.
 */
export async function bootstrapAdminKey(
  cfg: Config, opts: { databaseUrl?: string; databaseUp?: boolean; log: Logger },
): Promise<CreatedAdminKey | undefined> {
  const { log } = opts;
  if (cfg.auth === 'off') return undefined;
  const warn = (why: string) =>
    log.warn(`AUTH=${cfg.auth} but the admin API key could not be checked or created (${why}): create one with ${CREATE_BY_HAND}`);
  if (cfg.persist && opts.databaseUp === false) {
    warn('database unreachable');
    return undefined;
  }
  let created: CreatedAdminKey | undefined;
  try {
    const store = await openKeyStore(cfg, { databaseUrl: opts.databaseUrl || undefined, log });
    try {
      created = await ensureAdminKey(store, cfg.dataDir);
    } finally {
      await store.close();
    }
  } catch (e) {
    warn((e as Error).message);
    return undefined;
  }
  if (created?.fileError) log.warn(`the new admin API key (id ${created.record.id}) could not be written to ${created.file}: ${created.fileError}; it is printed once on stdout`);
  return created;
}

/** The one line that shows the key: stdout, never the logger. */
export function adminKeyBanner(k: CreatedAdminKey): string {
  const where = k.fileError ? `NOT saved to ${k.file}: store it now` : `also in ${k.file}`;
  return `admin API key (shown once, ${where}): ${k.key}`;
}
