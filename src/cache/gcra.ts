// GCRA (generic cell rate algorithm): the rate limiter's math, in JavaScript and as the Redis Lua script.
//
// A limit of `requests` per `window` gives an emission interval T = window / requests. The only
// state per identity is the theoretical arrival time (TAT) of its next request. A request at
// `now` is allowed iff  now >= max(TAT, now) + T − window,  i.e. at most `requests` back to back,
// then one every T — a sliding window without storing timestamps. On allow TAT becomes
// max(TAT, now) + T; the state expires once now passes it (the identity is then fresh).
//
// Times are integer microseconds: whole-millisecond intervals would round 1000/s to 0.
// The Lua script is the same arithmetic on Redis's clock (TIME), so every node shares one
// clock and one TAT per identity.

export interface Limit {
  requests: number;
  windowSeconds: number;
}

export interface RateLimitResult {
  allowed: boolean;
  /** The identity's limit: requests per window. */
  limit: number;
  /** Requests still allowed right now. */
  remaining: number;
  /** 0 when allowed; else whole seconds until a request would be allowed (Retry-After). */
  retryAfterSeconds: number;
  /** Whole seconds until the full budget is back. */
  resetSeconds: number;
}

export interface GcraStep {
  result: RateLimitResult;
  /** The new TAT to store (µs) when allowed; undefined when denied (state unchanged). */
  tatUs?: number;
}

/** Guards floor((window - (TAT - now)) / T) against 2.9999999 from float division. */
const EPSILON = 1e-6;

/** One decision. `tatUs`: stored TAT or undefined (fresh identity); `nowUs`: the clock. Pure. */
export function gcra(limit: Limit, tatUs: number | undefined, nowUs: number): GcraStep {
  const windowUs = limit.windowSeconds * 1e6;
  const interval = windowUs / limit.requests;
  const tat = tatUs === undefined || tatUs < nowUs ? nowUs : tatUs;
  const next = tat + interval;
  const allowAt = next - windowUs;
  if (nowUs < allowAt) {
    return {
      result: {
        allowed: false,
        limit: limit.requests,
        remaining: 0,
        retryAfterSeconds: Math.max(1, Math.ceil((allowAt - nowUs) / 1e6)),
        resetSeconds: Math.ceil((tat - nowUs) / 1e6),
      },
    };
  }
  const stored = Math.round(next);
  return {
    result: {
      allowed: true,
      limit: limit.requests,
      remaining: Math.max(0, Math.floor((nowUs + windowUs - stored) / interval + EPSILON)),
      retryAfterSeconds: 0,
      resetSeconds: Math.ceil((stored - nowUs) / 1e6),
    },
    tatUs: stored,
  };
}

/**
 * KEYS[1] the identity's TAT key; ARGV[1] window µs, ARGV[2] requests.
 * Returns {allowed 0|1, remaining, retry_after_us, reset_us}. Lua numbers are doubles; the
 * TAT (~1.7e15 µs) is written with %.0f because tostring() keeps only 14 digits.
 */
export const GCRA_LUA = `
local window = tonumber(ARGV[1])
local interval = window / tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local nxt = tat + interval
local allow_at = nxt - window
if now < allow_at then
  return {0, 0, math.ceil(allow_at - now), math.ceil(tat - now)}
end
nxt = math.floor(nxt + 0.5)
redis.call('SET', KEYS[1], string.format('%.0f', nxt), 'PX', math.max(1, math.ceil((nxt - now) / 1000)))
return {1, math.floor((now + window - nxt) / interval + ${EPSILON}), 0, nxt - now}
`;

/** The RateLimitResult of the script's reply. */
export function fromScript(limit: Limit, reply: [number, number, number, number]): RateLimitResult {
  const [allowed, remaining, retryUs, resetUs] = reply.map(Number);
  return {
    allowed: allowed === 1,
    limit: limit.requests,
    remaining: Math.max(0, remaining),
    retryAfterSeconds: allowed === 1 ? 0 : Math.max(1, Math.ceil(retryUs / 1e6)),
    resetSeconds: Math.max(0, Math.ceil(resetUs / 1e6)),
  };
}
