// Every request body, path parameter and query parameter of /api/v1/cache, as zod schemas.
//
// Bodies are strict objects: a misspelt field is a 400 naming it, never silently dropped.

import { z } from 'zod';
import { RECENT_TRADES_MAX_LIMIT } from '../../store/recent-trades.js';

const price = z.number().finite().nonnegative();
const isoTime = z.iso.datetime({ offset: true });

export const params = {
  symbol: z.string().regex(/^[A-Za-z0-9._-]{1,32}$/, 'expected 1-32 characters of [A-Za-z0-9._-]'),
  expiry: z.iso.date('expected a date YYYY-MM-DD'),
  signal_id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected 1-64 characters of [A-Za-z0-9_-]'),
  session_id: z.string().regex(/^[A-Za-z0-9_-]{16,128}$/, 'expected a session id as returned by POST /sessions'),
  user_id: z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, 'expected 1-64 characters of [A-Za-z0-9._@-]'),
  key: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'expected 1-128 characters of [A-Za-z0-9._-]'),
};

export const stockPrice = z.strictObject({
  close_price: price,
  open_price: price.optional(),
  high_price: price.optional(),
  low_price: price.optional(),
  volume: z.number().int().nonnegative().optional(),
  change_percent: z.number().finite().optional(),
  timestamp: isoTime.optional(),
});

export const bulkPrices = z
  .array(stockPrice.extend({ symbol: params.symbol }))
  .min(1, 'expected at least one price')
  .max(1000, 'at most 1,000 prices per request');

export const optionContract = z.strictObject({
  option_symbol: z.string().regex(/^[A-Za-z0-9._-]{1,40}$/, 'expected 1-40 characters of [A-Za-z0-9._-]'),
  strike_price: price,
  option_type: z.enum(['CALL', 'PUT']),
  bid_price: price.optional(),
  ask_price: price.optional(),
  last_price: price.optional(),
  volume: z.number().int().nonnegative().optional(),
  open_interest: z.number().int().nonnegative().optional(),
  implied_volatility: z.number().finite().nonnegative().optional(),
  delta: z.number().finite().optional(),
  gamma: z.number().finite().optional(),
  theta: z.number().finite().optional(),
  vega: z.number().finite().optional(),
});

export const optionsChain = z.array(optionContract).min(1, 'expected at least one contract').max(10_000, 'at most 10,000 contracts per chain');

export const signal = z.strictObject({
  symbol: params.symbol,
  signal_type: z.enum(['BUY', 'SELL', 'HOLD']),
  confidence: z.number().min(0).max(1),
  target_price: price.optional(),
  stop_loss: price.optional(),
  reasoning: z.string().max(4000).optional(),
  expires_at: isoTime.optional(),
});

export const sessionCreate = z.strictObject({
  user_id: params.user_id,
  role: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'expected 1-32 characters of [A-Za-z0-9_-]').default('user'),
  permissions: z.array(z.string().min(1).max(64)).max(100).default([]),
  data: z.record(z.string(), z.unknown()).optional(),
});

/** Analytics values are the caller's own JSON object. */
export const analytics = z.record(z.string(), z.unknown());

export const marketStatus = z.strictObject({
  is_open: z.boolean(),
  session: z.enum(['pre', 'regular', 'post', 'closed']).optional(),
  next_open: isoTime.optional(),
  next_close: isoTime.optional(),
  market: z.string().max(32).optional(),
});

export const invalidate = z
  .strictObject({
    pattern: z.string().min(1).max(256).optional(),
    namespace: z.string().min(1).max(64).optional(),
  })
  .refine((b) => b.pattern !== undefined || b.namespace !== undefined, { message: 'expected "pattern" or "namespace"', path: ['pattern'] });

/** Whole numbers of [min, max] as query text (no signs, exponents or fractions). */
const whole = (what: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/, `expected ${what} from ${min.toLocaleString('en')} to ${max.toLocaleString('en')}`)
    .transform(Number)
    .pipe(z.number().min(min, `expected ${what} from ${min.toLocaleString('en')} to ${max.toLocaleString('en')}`).max(max, `expected ${what} from ${min.toLocaleString('en')} to ${max.toLocaleString('en')}`));

/** GET /price-change: a period of 1 minute to 30 days. */
export const PRICE_CHANGE_DEFAULT_MINUTES = 60;
export const PRICE_CHANGE_MAX_MINUTES = 43_200;
/** GET /price-history: points per answer, and how far back `since` defaults. */
export const PRICE_HISTORY_DEFAULT_LIMIT = 500;
export const PRICE_HISTORY_MAX_LIMIT = 10_000;
export const PRICE_HISTORY_DEFAULT_SINCE_MS = 86_400_000;

export const query = {
  minutes: whole('whole minutes', 1, PRICE_CHANGE_MAX_MINUTES),
  historyLimit: whole('a whole number', 1, PRICE_HISTORY_MAX_LIMIT),
  /** GET /trades: as the runtime's GET /trades/{symbol}?limit=. */
  tradesLimit: whole('a whole number', 1, RECENT_TRADES_MAX_LIMIT),
  /** An instant: whole ms since the Unix epoch, or an ISO 8601 date-time with Z or an offset; as ms. */
  since: z.string().transform((s, ctx) => {
    const ms = /^\d{1,15}$/.test(s) ? Number(s) : isoTime.safeParse(s).success ? Date.parse(s) : NaN;
    if (Number.isFinite(ms)) return ms;
    ctx.addIssue({ code: 'custom', message: `expected an ISO 8601 date-time (with Z or an offset) or ms since the epoch, got "${s.slice(0, 40)}"` });
    return z.NEVER;
  }),
  ttl: z.coerce.number().int('expected whole seconds').min(1).max(30 * 86400),
  symbols: z
    .string()
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(params.symbol).min(1, 'expected at least one symbol').max(100, 'at most 100 symbols')),
  confirm: z.literal('true', { message: 'clearing every cache needs ?confirm=true' }),
};
