// The cache library's public surface (src/cache/api/ and the cache actor import from here).

export { CacheService, type CacheServiceOptions } from './service.js';
export { SessionStore, type Session, type SessionData } from './sessions.js';
export { RateLimiter, type RateLimiterOptions, type RateLimits, type Limit, type RateLimitResult } from './rate-limit.js';
export { loadNamespaces, parseNamespaces, type Namespace, type Strategy, STRATEGIES } from './namespaces.js';
export { CacheKeyError, CachePatternError, CacheSourceError, UnknownNamespaceError } from './errors.js';
export { DEFAULT_KEY_PREFIX, type CacheRedisOptions } from './redis-tier.js';
export type { CacheHealth, CacheHit, CacheSource, CacheStats, CleanupResult, Loader, Params, SetOptions, SourceItem, Tier } from './types.js';
