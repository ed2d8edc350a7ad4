// Why a credential was refused: the HTTP status and WebSocket error code it maps to, and a message that never quotes the credential.

export type AuthFailure = 'unauthorized' | 'forbidden' | 'token_expired' | 'auth_unavailable';

export class AuthError extends Error {
  constructor(readonly code: AuthFailure, message: string) {
    super(message);
    this.name = 'AuthError';
  }

  /** 401 for a missing, bad or expired credential; 403 for one that lacks the right; 503 when keys cannot be checked yet. */
  get status(): 401 | 403 | 503 {
    return this.code === 'forbidden' ? 403 : this.code === 'auth_unavailable' ? 503 : 401;
  }
}
