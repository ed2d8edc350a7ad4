// What both key stores enforce the same way: valid names, users and scopes, and their errors.

import { TickplantError } from '../errors.js';
import { parseScopes, type Scope } from './identity.js';

/**
 * A key store refused an operation or cannot be read. Codes: `api_key_invalid` (a bad name,
 * user or scope list), `api_key_name_taken`, `api_key_store_damaged`, `api_key_store_locked`.
 */
export class ApiKeyError extends TickplantError {}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._@:-]{0,63}$/;
const USER = /^[A-Za-z0-9._@:-]{1,128}$/;
const HEX_ID = /^[0-9a-f]{8}$/;

/**
 * Checks what create() is given and returns it normalized; throws ApiKeyError
 * `api_key_invalid` naming the bad field.
 */
export function validateKeyRequest(opts: { name: string; user?: string; scopes: readonly string[] }): { name: string; user: string; scopes: Scope[] } {
  const { name, user = '' } = opts;
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new ApiKeyError('api_key_invalid', `bad key name ${JSON.stringify(String(name).slice(0, 70))}: 1-64 characters of A-Z a-z 0-9 . _ @ : -, starting with a letter or digit`);
  }
  // `revoke <id-or-name>` must never have two readings.
  if (HEX_ID.test(name)) throw new ApiKeyError('api_key_invalid', `bad key name "${name}": 8 hex digits would read as a key id`);
  if (typeof user !== 'string' || (user !== '' && !USER.test(user))) {
    throw new ApiKeyError('api_key_invalid', `bad user ${JSON.stringify(String(user).slice(0, 140))}: 1-128 characters of A-Z a-z 0-9 . _ @ : -`);
  }
  let scopes: Scope[];
  try {
    scopes = parseScopes(opts.scopes);
  } catch (e) {
    throw new ApiKeyError('api_key_invalid', (e as Error).message);
  }
  if (scopes.length === 0) throw new ApiKeyError('api_key_invalid', 'a key needs at least one scope: read, write or admin');
  return { name, user, scopes };
}

export const nameTaken = (name: string): ApiKeyError =>
  new ApiKeyError('api_key_name_taken', `an active key is already named "${name}": revoke it first, or choose another name`);
