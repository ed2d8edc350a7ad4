// Query and path parameters of the front's own HTTP routes, as zod schemas: the routes validate with them, /openapi.json documents them.
//
// A query is read as one string per name (the first, as URLSearchParams.get does); names a
// route does not know are ignored. A bad parameter is a 400
// {"error":{"code":"invalid_parameter","message":"<name>: <what was expected>"}} naming the
// first one found, in the order the schema lists them. Each schema validates the text and turns
// it into the value the route uses; its `.meta()` says what the text spells (an integer, a
// duration), which is what the OpenAPI document shows.

import { z } from 'zod';
import { INTERVALS } from '../analytics/intervals.js';
import { type IndicatorSpec, parseIndicatorNames } from '../analytics/indicators.js';
import { RECENT_TRADES_DEFAULT_LIMIT, RECENT_TRADES_MAX_LIMIT } from '../store/recent-trades.js';
import { parseResolution } from './client-message.js';
import type { HttpReply } from './http.js';

/** `?hours=` of /orderbook/{symbol}/history: 1 hour to 30 days. */
export const HISTORY_DEFAULT_HOURS = 24;
export const HISTORY_MAX_HOURS = 720;
export const CANDLES_DEFAULT_LIMIT = 1000;
export const CANDLES_MAX_LIMIT = 10_000;
export const INDICATORS_DEFAULT_LIMIT = 100;
/** Also every indicator series' capacity: one series answers any limit. */
export const INDICATORS_MAX_LIMIT = 1000;
/** A names list longer than 16 names can be is refused before it is parsed (and quoted back). */
export const INDICATOR_NAMES_MAX_CHARS = 512;
export const TRADES_DEFAULT_LIMIT = RECENT_TRADES_DEFAULT_LIMIT;
export const TRADES_RANGE_DEFAULT_LIMIT = 1000;
/** The most trades one answer holds, recent or ranged. */
export const TRADES_MAX_LIMIT = RECENT_TRADES_MAX_LIMIT;

/** A time parameter: whole ms since the epoch, or an ISO 8601 date-time; NaN when neither. */
export function parseTime(v: string): number {
  if (/^\d{1,16}$/.test(v)) return Number(v);
  if (!/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(v)) return NaN;
  return Date.parse(v);
}

/** A whole number of [min, max] as query text: digits only (no sign, exponent, fraction or spaces). */
function wholeNumber(min: number, max: number, doc: { description: string; default?: number }, what = 'a whole number') {
  return z
    .string()
    .refine((s) => /^\d+$/.test(s) && Number(s) >= min && Number(s) <= max, {
      error: (iss) => `expected ${what} from ${min} to ${max}, got "${String(iss.input).slice(0, 20)}"`,
    })
    .transform(Number)
    .meta({ type: 'integer', minimum: min, maximum: max, ...doc });
}

/** An instant as ms since the epoch, from whole ms or an ISO 8601 date-time. */
function instant(description: string) {
  return z
    .string()
    .transform((s, ctx) => {
      const ms = parseTime(s);
      if (Number.isFinite(ms)) return ms;
      ctx.issues.push({ code: 'custom', message: `expected an ISO 8601 time or ms since the epoch, got "${s.slice(0, 40)}"`, input: s });
      return z.NEVER;
    })
    .meta({
      type: 'string', pattern: '^(\\d{1,16}|\\d{4}-\\d{2}-\\d{2}(T[\\d:.]+(Z|[+-]\\d{2}:?\\d{2})?)?)$',
      description: `${description}: an ISO 8601 date or date-time, or whole ms since the Unix epoch`, examples: ['2026-01-02T14:30:00Z', '1767364200000'],
    });
}

/** A history resolution in ms: "1s".."1h" or whole seconds 1..3600; "none" is no resolution for HTTP. */
const resolution = z
  .string()
  .transform((s, ctx) => {
    const r = parseResolution(s);
    if (r.ok && r.ms > 0) return r.ms;
    ctx.issues.push({ code: 'custom', message: r.ok ? 'expected a duration, not "none"' : r.message, input: s });
    return z.NEVER;
  })
  .meta({
    type: 'string', pattern: '^(\\d{1,7}[smh]?)$', examples: ['1m', '5s', '1h', '60'],
    description: 'history resolution: a duration from 1s to 1h ("1s", "5m", "1h") or whole seconds 1-3600; default HISTORY_RESOLUTION_MS',
  });

const interval = z
  .enum(INTERVALS, { error: (iss) => `expected one of ${INTERVALS.join(', ')}, got "${String(iss.input).slice(0, 10)}"` })
  .meta({ default: '1m', description: 'candle interval' });

/** The message of a names list that names nothing (an absent one included). */
function noNames(): string {
  const r = parseIndicatorNames('');
  return r.ok ? 'expected indicator names' : r.message;
}

/** Indicator names, parsed into their specs (analytics/indicator-names.ts has the grammar). */
const indicatorNames = z
  .string({ error: noNames })
  .transform((s, ctx): readonly IndicatorSpec[] => {
    if (s.length > INDICATOR_NAMES_MAX_CHARS) {
      ctx.issues.push({ code: 'custom', message: `at most ${INDICATOR_NAMES_MAX_CHARS} characters, got ${s.length}`, input: s });
      return z.NEVER;
    }
    const parsed = parseIndicatorNames(s);
    if (parsed.ok) return parsed.specs;
    ctx.issues.push({ code: 'custom', message: parsed.message, input: s });
    return z.NEVER;
  })
  .meta({
    type: 'string', maxLength: INDICATOR_NAMES_MAX_CHARS, examples: ['sma20,ema20,rsi14,macd,bb20,vwap'],
    description: 'comma-separated indicators, at most 16: sma<N>, ema<N>, rsi[<N>], macd[<fast>_<slow>_<signal>], bb<N>[_<k>], vwap',
  });

/** Path parameters of the front's routes. */
export const pathParams = {
  symbol: z.string().min(1).meta({ description: 'a symbol served (GET /symbols lists them), %-escaped', examples: ['US.AAPL'] }),
  client_id: z.string().min(1).meta({ description: "a client id of the caller's choosing" }),
  file: z.string().min(1).meta({ description: 'a content-hashed asset name, as the chart page names it' }),
};

/** GET /orderbook/{symbol}/today. */
export const orderbookTodayQuery = z.object({ resolution: resolution.optional() });

/** GET /orderbook/{symbol}/history. */
export const orderbookHistoryQuery = z.object({
  resolution: resolution.optional(),
  hours: wholeNumber(1, HISTORY_MAX_HOURS, {
    description: 'hours back from now; a range over 100,000 points is served at a coarser resolution', default: HISTORY_DEFAULT_HOURS,
  }, 'a whole number of hours').optional(),
});

/** GET /candles/{symbol}. */
export const candlesQuery = z.object({
  interval: interval.optional(),
  limit: wholeNumber(1, CANDLES_MAX_LIMIT, { description: 'the newest candles of the range to answer', default: CANDLES_DEFAULT_LIMIT }).optional(),
  from: instant('first bucket start included (default: 00:00 today in MARKET_TIMEZONE)').optional(),
  to: instant('bucket starts before this (default: now)').optional(),
});

/** GET /indicators/{symbol}: its interval, checked first (indicatorsQuery has them all). */
export const indicatorIntervalQuery = z.object({ interval: interval.optional() });

/** GET /indicators/{symbol}, after its interval: the names and how many points. */
export const indicatorSeriesQuery = z.object({
  names: indicatorNames,
  limit: wholeNumber(1, INDICATORS_MAX_LIMIT, { description: 'points to answer, the last ones', default: INDICATORS_DEFAULT_LIMIT }).optional(),
});

/** GET /indicators/{symbol}. */
export const indicatorsQuery = z.object({ ...indicatorIntervalQuery.shape, ...indicatorSeriesQuery.shape });

/** GET /trades/{symbol}: the newest trades, or with `from` a stored range. */
export const tradesQuery = z
  .object({
    limit: wholeNumber(1, TRADES_MAX_LIMIT, { description: `trades to answer (default ${TRADES_DEFAULT_LIMIT}, ${TRADES_RANGE_DEFAULT_LIMIT} with from)` }).optional(),
    from: instant('first trade time included; asks for stored trades').optional(),
    to: instant('trade times before this (default: now); needs from').optional(),
  })
  .superRefine((q, ctx) => {
    if (q.to !== undefined && q.from === undefined) ctx.addIssue({ code: 'custom', path: ['from'], message: 'required with to (ISO 8601 or ms since the epoch)' });
  });

/** The 400 of a bad parameter, as every front route answers it. */
export function invalidParameter(message: string): HttpReply {
  return { status: 400, body: JSON.stringify({ error: { code: 'invalid_parameter', message } }) };
}

export type ParsedQuery<T> = { ok: true; value: T } | { ok: false; reply: HttpReply };

/** `query` validated by `schema`, or the 400 naming the first bad parameter. */
export function parseQuery<S extends z.ZodType>(schema: S, query: URLSearchParams): ParsedQuery<z.output<S>> {
  const given: Record<string, string> = Object.create(null);
  for (const [name, value] of query) given[name] ??= value;
  const r = schema.safeParse(given);
  if (r.success) return { ok: true, value: r.data };
  const issue = r.error.issues[0];
  return { ok: false, reply: invalidParameter(`${issue.path.map(String).join('.') || 'query'}: ${issue.message}`) };
}
