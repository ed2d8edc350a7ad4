// A credential (API key or JWT) → the identity it proves, for HTTP requests and WebSocket connections alike.
//
// API keys are checked synchronously against the node's key ring. JWTs are verified by jose
// (asynchronously) once, then remembered until they expire, so a client sending the same
// token on every request costs one map lookup after the first.

import { LRUCache } from 'lru-cache';
import type { HttpRequest } from '../protocol/http.js';
import { AuthError } from './errors.js';
import type { Identity } from './identity.js';
import type { JwtVerifier } from './jwt.js';
import type { KeyRing } from './key-ring.js';

/** Longer credentials are refused unread: keys are ~50 characters, tokens rarely over 2 KB. */
export const CREDENTIAL_MAX_LENGTH = 8192;
const VERIFIED_TOKENS = 10_000;
const KEY_PREFIX = 'tp_';

export class Authenticator {
  private readonly verified = new LRUCache<string, Identity>({ max: VERIFIED_TOKENS });

  constructor(private readonly keys: KeyRing, private readonly jwt: JwtVerifier | undefined) {}

  /** The identity `credential` proves; AuthError (thrown or rejected) when it proves none. */
  verify(credential: string, nowMs = Date.now()): Identity | Promise<Identity> {
    if (credential.length === 0 || credential.length > CREDENTIAL_MAX_LENGTH) {
      throw new AuthError('unauthorized', `credential must be 1-${CREDENTIAL_MAX_LENGTH} characters`);
    }
    if (credential.startsWith(KEY_PREFIX)) return this.keys.verify(credential);
    if (this.jwt === undefined) {
      throw new AuthError('unauthorized', 'credential is not an API key, and JWTs are not accepted (neither JWT_SECRET nor JWT_PUBLIC_KEY_FILE is set)');
    }
    const known = this.verified.get(credential);
    if (known !== undefined) {
      if (known.expiresAtMs !== undefined && known.expiresAtMs <= nowMs) {
        this.verified.delete(credential);
        throw new AuthError('token_expired', 'token expired');
      }
      return known;
    }
    return this.jwt.verify(credential).then((identity) => {
      this.verified.set(credential, identity);
      return identity;
    });
  }
}

/**
 * The credential a request carries: `X-API-Key: <key>` or `Authorization: Bearer <key or JWT>`;
 * undefined when none. A malformed Authorization header is a credential that fails, not none.
 */
export function credentialOf(req: HttpRequest): string | undefined {
  const key = req.header('x-api-key');
  if (key !== '') return key.trim();
  const authorization = req.header('authorization');
  if (authorization === '') return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  return m ? m[1] : '';
}
