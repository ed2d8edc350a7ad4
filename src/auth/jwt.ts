// JWT verification with jose: HS256 with JWT_SECRET, RS256/ES256 with a PEM public key or a JWKS file (JWT_PUBLIC_KEY_FILE).
//
// Claims: `sub` the user, `exp` required (a token that never expires cannot be revoked),
// `scopes` (an array, or OAuth's space-separated `scope`), and optionally `symbols`, the only
// symbols the token may subscribe to.

import { readFileSync } from 'node:fs';
import { type KeyObject, createPublicKey, createSecretKey } from 'node:crypto';
import { type JWTPayload, type JWTVerifyGetKey, createLocalJWKSet, errors, jwtVerify } from 'jose';
import { ConfigError } from '../errors.js';
import { AuthError } from './errors.js';
import { type Identity, type Scope, parseScopes } from './identity.js';

export interface JwtOptions {
  secret?: string;
  publicKeyFile?: string;
  issuer?: string;
  audience?: string;
}

const SUB_MAX = 128;
/** 9999-12-31T23:59:59Z: later expiries are not dates (and not a credential anyone should hold). */
const EXP_MAX_S = 253_402_300_799;
const SYMBOLS_MAX = 10_000;
const SYMBOL_RE = /^[A-Za-z0-9._:/-]{1,32}$/;

/**
 * The identity a verified token's claims grant. Pure: the signature and `exp` were checked by
 * jose; this checks the claims' shapes. Throws AuthError naming the claim.
 */
export function identityFromClaims(claims: JWTPayload): Identity {
  const bad = (claim: string, expected: string) => new AuthError('unauthorized', `token claim ${claim}: expected ${expected}`);
  const sub = claims.sub;
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > SUB_MAX) throw bad('sub', `the user, a string of 1-${SUB_MAX} characters`);
  if (typeof claims.exp !== 'number' || !Number.isFinite(claims.exp) || claims.exp < 0 || claims.exp > EXP_MAX_S) {
    throw bad('exp', 'the expiry, seconds since the epoch, before the year 10000');
  }
  let scopes: Scope[];
  const raw = claims.scopes ?? claims.scope;
  try {
    if (Array.isArray(raw) && raw.every((s) => typeof s === 'string')) scopes = parseScopes(raw as string[]);
    else if (typeof raw === 'string') scopes = parseScopes(raw);
    else throw new RangeError('missing');
  } catch (e) {
    throw bad('scopes', `a list of read, write, admin (${(e as Error).message})`);
  }
  if (scopes.length === 0) throw bad('scopes', 'at least one of read, write, admin');
  let symbols: string[] | undefined;
  if (claims.symbols !== undefined) {
    const s = claims.symbols;
    if (!Array.isArray(s) || s.length > SYMBOLS_MAX || !s.every((x) => typeof x === 'string' && SYMBOL_RE.test(x))) {
      throw bad('symbols', `an array of at most ${SYMBOLS_MAX} symbols of 1-32 characters [A-Za-z0-9._:/-]`);
    }
    symbols = s as string[];
  }
  return { kind: 'jwt', id: `jwt:${sub}`, name: sub, user: sub, scopes, symbols, expiresAtMs: claims.exp * 1000 };
}

/** Verifies tokens against the configured keys; construct with `load`, which reads the key file once. */
export class JwtVerifier {
  private constructor(
    private readonly getKey: JWTVerifyGetKey,
    private readonly algorithms: string[],
    private readonly o: JwtOptions,
  ) {}

  /** undefined when neither JWT_SECRET nor JWT_PUBLIC_KEY_FILE is set. Throws ConfigError for an unreadable or unusable key file. */
  static load(o: JwtOptions): JwtVerifier | undefined {
    if (!o.secret && !o.publicKeyFile) return undefined;
    const secret: KeyObject | undefined = o.secret ? createSecretKey(Buffer.from(o.secret, 'utf8')) : undefined;
    let publicKey: KeyObject | undefined;
    let jwks: JWTVerifyGetKey | undefined;
    const algorithms = secret ? ['HS256'] : [];
    if (o.publicKeyFile) {
      let text: string;
      try {
        text = readFileSync(o.publicKeyFile, 'utf8');
      } catch (e) {
        throw new ConfigError(`invalid configuration: jwtPublicKeyFile (JWT_PUBLIC_KEY_FILE): cannot read ${o.publicKeyFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      try {
        if (text.trimStart().startsWith('{')) {
          jwks = createLocalJWKSet(JSON.parse(text));
          algorithms.push('RS256', 'ES256');
        } else {
          publicKey = createPublicKey(text);
          algorithms.push(algorithmOf(publicKey));
        }
      } catch (e) {
        throw new ConfigError(`invalid configuration: jwtPublicKeyFile (JWT_PUBLIC_KEY_FILE): ${o.publicKeyFile} is neither an RSA or P-256 public key (PEM) nor a JWKS: ${(e as Error).message}`);
      }
    }
    const getKey: JWTVerifyGetKey = async (header, token) => {
      if (header.alg === 'HS256' && secret) return secret;
      if (header.alg !== 'HS256' && jwks) return jwks(header, token);
      if (header.alg !== 'HS256' && publicKey) return publicKey;
      throw new AuthError('unauthorized', `token algorithm ${String(header.alg).slice(0, 16)} is not accepted (accepted: ${algorithms.join(', ')})`);
    };
    return new JwtVerifier(getKey, algorithms, o);
  }

  /** The token's identity; AuthError when its signature, expiry, issuer, audience or claims are wrong. */
  async verify(token: string): Promise<Identity> {
    try {
      const { payload } = await jwtVerify(token, this.getKey, {
        algorithms: this.algorithms,
        issuer: this.o.issuer,
        audience: this.o.audience,
        requiredClaims: ['exp', 'sub'],
      });
      return identityFromClaims(payload);
    } catch (e) {
      throw asAuthError(e);
    }
  }
}

function algorithmOf(key: KeyObject): string {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw new Error(`a ${key.asymmetricKeyType} key${key.asymmetricKeyDetails?.namedCurve ? ` on ${key.asymmetricKeyDetails.namedCurve}` : ''} (expected RSA or EC P-256)`);
}

/** jose's errors as ours, with messages that say what is wrong and never quote the token. */
function asAuthError(e: unknown): AuthError {
  if (e instanceof AuthError) return e;
  if (e instanceof errors.JWTExpired) return new AuthError('token_expired', 'token expired');
  if (e instanceof errors.JWTClaimValidationFailed) return new AuthError('unauthorized', `token claim ${e.claim}: ${e.reason === 'check_failed' ? 'not accepted' : e.reason}`);
  if (e instanceof errors.JWSSignatureVerificationFailed) return new AuthError('unauthorized', 'token signature does not verify');
  if (e instanceof errors.JOSEAlgNotAllowed) return new AuthError('unauthorized', 'token algorithm not accepted');
  if (e instanceof errors.JWKSNoMatchingKey) return new AuthError('unauthorized', 'no key of JWT_PUBLIC_KEY_FILE matches the token');
  if (e instanceof errors.JOSEError) return new AuthError('unauthorized', 'token is not a valid JWT');
  return new AuthError('unauthorized', 'token is not a valid JWT');
}
