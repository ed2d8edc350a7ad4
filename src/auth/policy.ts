// Who may call a route: its access level against AUTH's mode and the caller's identity.

import { AuthError } from './errors.js';
import { ANONYMOUS_ADMIN, ANONYMOUS_READER, type Identity, type Scope, hasScope } from './identity.js';

export type AuthMode = 'off' | 'writes' | 'all';

/**
 * A route's access level: `public` (anyone, in every mode: /health), a scope, or a scope on
 * resources a user owns (`:own` — sessions, alerts: the route itself then checks that the
 * caller is their user or an admin, and a credential is needed in every mode but off).
 */
export type Access = 'public' | Scope | `${Scope}:own`;

/**
 * The identity a request runs as, or the AuthError that refuses it: 401 when a credential is
 * needed and none was given, 403 when the one given lacks the scope. `identity` is the verified
 * credential's, undefined when the request carried none.
 */
export function authorize(mode: AuthMode, access: Access, identity: Identity | undefined): Identity | AuthError {
  if (mode === 'off') return identity ?? ANONYMOUS_ADMIN;
  if (access === 'public') return identity ?? ANONYMOUS_READER;
  const [scope, own] = access.split(':') as [Scope, string | undefined];
  if (identity === undefined) {
    if (scope === 'read' && own === undefined && mode === 'writes') return ANONYMOUS_READER;
    return new AuthError('unauthorized', `a credential is required${mode === 'all' ? ' (AUTH=all)' : ''}: send X-API-Key: <key> or Authorization: Bearer <key or JWT>`);
  }
  if (!hasScope(identity, scope)) return new AuthError('forbidden', `this credential lacks the ${scope} scope (it has ${identity.scopes.join(', ')})`);
  return identity;
}
