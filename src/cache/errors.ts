// The cache's runtime errors, each with a stable `code` (the REST API maps them to 4xx/5xx).

import { TickplantError } from '../errors.js';

/** A key parameter is missing or has a character/length the key rules refuse. Caller's input: 400. */
export class CacheKeyError extends TickplantError {
  constructor(readonly namespace: string, readonly param: string, message: string) {
    super('cache_key_invalid', `${namespace}.${param}: ${message}`);
  }
}

/** The namespace is not declared in config/cache-namespaces.json. A programming error. */
export class UnknownNamespaceError extends TickplantError {
  constructor(readonly namespace: string, known: readonly string[]) {
    super('cache_namespace_unknown', `unknown cache namespace "${namespace}" (declared: ${known.join(', ')}); add it to config/cache-namespaces.json`);
  }
}

/** An invalidation pattern the cache refuses (too long, characters outside the key alphabet). 400. */
export class CachePatternError extends TickplantError {
  constructor(message: string) {
    super('cache_pattern_invalid', message);
  }
}

/**
 * The namespace's source failed (PostgreSQL down, a loader threw) or is not registered.
 * Thrown to the caller: the value could not be produced or stored, and a cache must not
 * pretend it was. 503 for the API. `cause` holds the source's own error.
 */
export class CacheSourceError extends TickplantError {
  constructor(readonly namespace: string, message: string, options?: { cause?: unknown }) {
    super('cache_source_failed', `${namespace}: ${message}`);
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}
