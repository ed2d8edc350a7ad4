// Who a request or a connection acts as: the user, what they may do, and until when.

/**
 * What a credential allows. Each includes the ones before it: `write` can read, `admin` can
 * do anything (clear, invalidate, cleanup, any user's sessions, /health/detailed's internals).
 */
export const SCOPES = ['read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

const RANK: Record<Scope, number> = { read: 1, write: 2, admin: 3 };

export interface Identity {
  /** How it was established: an API key, a JWT, or none (AUTH=off, or an anonymous read). */
  kind: 'key' | 'jwt' | 'anonymous';
  /**
   * Names the credential without revealing it: `key:<id>` or `jwt:<sub>`; '' when anonymous.
   * Rate limits and logs use it.
   */
  id: string;
  /** The key's name, or the token's subject: what RATE_LIMIT_PER_KEY names. */
  name: string;
  /** The user the credential acts for (the key's user, the token's `sub`); '' when none. */
  user: string;
  scopes: readonly Scope[];
  /** Symbols the credential may subscribe to; undefined: any. */
  symbols?: readonly string[];
  /** When the credential expires (ms since the epoch); undefined: never. */
  expiresAtMs?: number;
}

/** The identity of a request without a credential: may read (when reads are open), nothing else. */
export const ANONYMOUS_READER: Identity = Object.freeze({ kind: 'anonymous', id: '', name: '', user: '', scopes: Object.freeze(['read'] as Scope[]) });

/** AUTH=off: everyone may do everything (development only). */
export const ANONYMOUS_ADMIN: Identity = Object.freeze({ kind: 'anonymous', id: '', name: '', user: '', scopes: Object.freeze(['admin'] as Scope[]) });

/** Whether `identity` holds `scope` (directly or through a wider one). */
export function hasScope(identity: Identity, scope: Scope): boolean {
  const need = RANK[scope];
  for (const s of identity.scopes) if (RANK[s] >= need) return true;
  return false;
}

/** Whether `identity` may act on a resource owned by `owner`: its own user, or an admin. */
export function mayActFor(identity: Identity, owner: string): boolean {
  return hasScope(identity, 'admin') || (identity.user !== '' && identity.user === owner);
}

/** Parses a scope list (`read,write`); throws a RangeError naming the bad one. */
export function parseScopes(list: readonly string[] | string): Scope[] {
  const items = typeof list === 'string' ? list.split(/[\s,]+/).filter(Boolean) : list;
  const out: Scope[] = [];
  for (const s of items) {
    if (!(SCOPES as readonly string[]).includes(s)) throw new RangeError(`unknown scope "${String(s).slice(0, 32)}": expected ${SCOPES.join(', ')}`);
    if (!out.includes(s as Scope)) out.push(s as Scope);
  }
  return out;
}
