// Indicator names of `GET /indicators/{symbol}?names=`: their grammar, limits and canonical keys.
//
//   sma<N>   ema<N>   rsi | rsi<N>   macd | macd<fast>_<slow>_<signal>   bb<N> | bb<N>_<k>   vwap
//
// A key is the spelling the name stands for in full (`rsi` → "rsi14", `macd` → "macd12_26_9",
// `bb20` → "bb20_2"), so two spellings of one indicator are one entry and one cache slot.

export const MIN_PERIOD = 1;
export const MAX_PERIOD = 500;
/** RSI compares each close with the one before: one period of one change says nothing. */
export const MIN_RSI_PERIOD = 2;
export const MAX_INDICATORS = 16;
export const DEFAULT_RSI_PERIOD = 14;
export const DEFAULT_MACD = { fast: 12, slow: 26, signal: 9 } as const;
export const DEFAULT_BB_DEVIATIONS = 2;
/** Band widths beyond this many standard deviations are a typo, not a band. */
export const MAX_BB_DEVIATIONS = 10;

export type IndicatorSpec =
  | { readonly kind: 'sma' | 'ema' | 'rsi'; readonly key: string; readonly period: number }
  | { readonly kind: 'macd'; readonly key: string; readonly fast: number; readonly slow: number; readonly signal: number }
  | { readonly kind: 'bb'; readonly key: string; readonly period: number; readonly deviations: number }
  | { readonly kind: 'vwap'; readonly key: 'vwap' };

export type IndicatorKind = IndicatorSpec['kind'];

export type ParsedIndicatorNames =
  | { readonly ok: true; readonly specs: readonly IndicatorSpec[] }
  | { readonly ok: false; readonly message: string; readonly entry: string };

const GRAMMAR = 'sma<N>, ema<N>, rsi[<N>], macd[<fast>_<slow>_<signal>], bb<N>[_<k>], vwap';
// Up to six digits, so that "sma1000" is told its range rather than called unknown.
const PERIOD_NAME = /^(sma|ema|rsi|bb)(\d{1,6})$/;
const MACD_NAME = /^macd(\d{1,6})_(\d{1,6})_(\d{1,6})$/;
const BB_NAME = /^bb(\d{1,6})_(\d{1,3}(?:\.\d{1,6})?)$/;

type One = { spec: IndicatorSpec } | { message: string };

/**
 * Reads a comma-separated list of indicator names (spaces around a name are ignored). Keeps the
 * first of each key, in order; fails on the first bad entry, whose message quotes it.
 */
export function parseIndicatorNames(text: string): ParsedIndicatorNames {
  if (text.trim() === '') return { ok: false, message: `no indicator named: expected a comma-separated list of ${GRAMMAR}`, entry: '' };
  const specs: IndicatorSpec[] = [];
  const keys = new Set<string>();
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    const one = parseOne(entry);
    if ('message' in one) return { ok: false, message: one.message, entry };
    if (keys.has(one.spec.key)) continue;
    if (keys.size === MAX_INDICATORS) {
      return { ok: false, message: `"${entry}": at most ${MAX_INDICATORS} indicators per request`, entry };
    }
    keys.add(one.spec.key);
    specs.push(one.spec);
  }
  return { ok: true, specs };
}

function parseOne(entry: string): One {
  if (entry === 'vwap') return { spec: { kind: 'vwap', key: 'vwap' } };
  if (entry === 'rsi') return periodSpec(entry, 'rsi', DEFAULT_RSI_PERIOD);
  if (entry === 'macd') return macdSpec(entry, DEFAULT_MACD.fast, DEFAULT_MACD.slow, DEFAULT_MACD.signal);
  let m = PERIOD_NAME.exec(entry);
  if (m) {
    const kind = m[1] as 'sma' | 'ema' | 'rsi' | 'bb';
    const period = Number(m[2]);
    return kind === 'bb' ? bbSpec(entry, period, DEFAULT_BB_DEVIATIONS) : periodSpec(entry, kind, period);
  }
  m = MACD_NAME.exec(entry);
  if (m) return macdSpec(entry, Number(m[1]), Number(m[2]), Number(m[3]));
  m = BB_NAME.exec(entry);
  if (m) return bbSpec(entry, Number(m[1]), Number(m[2]));
  const shown = entry === '' ? 'an empty name' : `"${entry}"`;
  return { message: `${shown} is not an indicator name: expected ${GRAMMAR}` };
}

function periodSpec(entry: string, kind: 'sma' | 'ema' | 'rsi', period: number): One {
  const min = kind === 'rsi' ? MIN_RSI_PERIOD : MIN_PERIOD;
  const bad = rangeError(entry, 'period', period, min);
  return bad ?? { spec: { kind, key: `${kind}${period}`, period } };
}

function macdSpec(entry: string, fast: number, slow: number, signal: number): One {
  const bad = rangeError(entry, 'fast period', fast, MIN_PERIOD)
    ?? rangeError(entry, 'slow period', slow, MIN_PERIOD)
    ?? rangeError(entry, 'signal period', signal, MIN_PERIOD);
  if (bad) return bad;
  if (fast >= slow) return { message: `"${entry}": the fast period (${fast}) must be below the slow period (${slow})` };
  return { spec: { kind: 'macd', key: `macd${fast}_${slow}_${signal}`, fast, slow, signal } };
}

function bbSpec(entry: string, period: number, deviations: number): One {
  const bad = rangeError(entry, 'period', period, MIN_PERIOD);
  if (bad) return bad;
  if (!(deviations > 0 && deviations <= MAX_BB_DEVIATIONS)) {
    return { message: `"${entry}": the band width must be above 0 and at most ${MAX_BB_DEVIATIONS} standard deviations, not ${deviations}` };
  }
  // String(2.50) is "2.5": one key per width however it was written.
  return { spec: { kind: 'bb', key: `bb${period}_${String(deviations)}`, period, deviations } };
}

function rangeError(entry: string, what: string, n: number, min: number): { message: string } | null {
  if (n >= min && n <= MAX_PERIOD) return null;
  return { message: `"${entry}": the ${what} must be ${min}..${MAX_PERIOD}, not ${n}` };
}

/**
 * Closed candles an indicator needs before its first value: the history to read before the
 * first point a caller asked for.
 */
export function warmUpCandles(spec: IndicatorSpec): number {
  switch (spec.kind) {
    case 'sma': case 'ema': case 'bb': return spec.period;
    case 'rsi': return spec.period + 1; // N changes need N + 1 closes
    case 'macd': return spec.slow + spec.signal - 1; // the signal averages MACD values, the first at the slow EMA's seed
    case 'vwap': return 1;
  }
}
