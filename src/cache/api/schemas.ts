// Every request body, path parameter and query parameter of /api/v1/cache, as zod schemas.
//
// Bodies are strict objects: a misspelt field is a 400 naming it, never silently dropped.

import { z } from 'zod';

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

export const query = {
  ttl: z.coerce.number().int('expected whole seconds').min(1).max(30 * 86400),
  symbols: z
    .string()
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(params.symbol).min(1, 'expected at least one symbol').max(100, 'at most 100 symbols')),
  confirm: z.literal('true', { message: 'clearing every cache needs ?confirm=true' }),
};
