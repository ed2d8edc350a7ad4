// The active API keys of a node, held in memory by hash: a request's key is checked with one SHA-256 and one map lookup.
//
// Reloaded from the key store every REFRESH_MS, so a key created or revoked with `npm run keys`
// takes effect within that on every node. Until the first load succeeds, keys cannot be checked
// (AuthError auth_unavailable, 503); after, a failed reload keeps the last good set.

import type { Logger } from '../log.js';
import { type ApiKeyRecord, type KeyStore, hashKey } from './api-keys.js';
import { AuthError } from './errors.js';
import type { Identity } from './identity.js';

export const REFRESH_MS = 2000;

export class KeyRing {
  private byHash = new Map<string, Identity>();
  private loaded = false;
  private lastError = '';
  private timer?: NodeJS.Timeout;
  private loading?: Promise<void>;

  private store?: KeyStore;

  /** `open` is retried at each reload until it succeeds: the database may come up after the front. */
  constructor(private readonly open: () => Promise<KeyStore>, private readonly log: Logger) {}

  /** Loads once, then keeps reloading in the background. */
  async start(): Promise<void> {
    await this.reload();
    this.timer = setInterval(() => void this.reload(), REFRESH_MS);
    this.timer.unref();
  }

  reload(): Promise<void> {
    this.loading ??= (async () => {
      this.store ??= await this.open();
      return this.store.active();
    })().then(
      (keys) => {
        this.byHash = new Map(keys.map((k) => [k.hash, identityOf(k)]));
        if (!this.loaded || this.lastError) this.log.info(`API keys loaded: ${keys.length} active`);
        this.loaded = true;
        this.lastError = '';
      },
      (e: Error) => {
        // Once per outage, not every REFRESH_MS.
        if (this.lastError === '') this.log.warn(`API keys could not be reloaded (${this.loaded ? 'the last loaded set stays in use' : 'keys are refused until they load'}): ${e.message}`);
        this.lastError = e.message || 'unknown error';
      },
    ).finally(() => (this.loading = undefined));
    return this.loading;
  }

  get size(): number {
    return this.byHash.size;
  }

  /** The identity of `key`; AuthError when it is unknown or revoked, or when keys have not loaded yet. */
  verify(key: string): Identity {
    if (!this.loaded) throw new AuthError('auth_unavailable', `API keys cannot be checked yet (key store unavailable: ${this.lastError || 'loading'}); retry`);
    const identity = this.byHash.get(hashKey(key));
    if (identity === undefined) throw new AuthError('unauthorized', 'API key not recognised (unknown or revoked)');
    return identity;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.loading;
    await this.store?.close();
  }
}

function identityOf(k: ApiKeyRecord): Identity {
  return Object.freeze({ kind: 'key', id: `key:${k.id}`, name: k.name, user: k.user, scopes: Object.freeze([...k.scopes]) });
}
