// Client→server WebSocket messages: validation (zod), stable error codes, and the rare frames.
//
// Bad input never throws out of here: parseClientMessage returns a code and a message naming
// the field, which the front actor sends back as an error frame to that client only.
// Unknown fields are ignored, so clients may send fields of newer protocol versions.

import { z } from 'zod';
import { INTERVALS } from '../analytics/intervals.js';

/** Stable error codes of `{"type":"error","code",…}`; clients may branch on them. */
export const ERROR_CODES = [
  'invalid_json', // the text is not JSON
  'invalid_message', // JSON, but not a valid message: the message names the field
  'unknown_action', // `action` is a string we do not know: the message names it
  'payload_too_large', // the frame exceeds the server's maximum message size
  'unknown_symbol', // no feed carries this symbol
  'too_many_subscriptions', // the connection reached its subscription limit
  'not_subscribed', // unsubscribe from a symbol the connection does not follow
  'unauthorized', // no valid credential: missing (AUTH=all), unknown, revoked, expired or malformed
  'forbidden', // the credential does not allow this (a symbol outside the token's symbols)
  'rate_limited', // messages over WS_MESSAGE_RATE / WS_MESSAGE_BURST, or too many history requests in flight
  'internal', // the server failed; the client did nothing wrong
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const CLIENT_ACTIONS = ['subscribe', 'unsubscribe', 'ping', 'auth'] as const;

/** Where a resuming client stopped: the last `seq` it received, of sequence `epoch`. */
export interface ResumePoint {
  seq: number;
  epoch: number;
}

/**
 * What a subscription follows of a symbol; each channel has its own `seq` and `epoch`.
 * `book`: the order book (snapshot, then updates); `trades`: the exchange's trades;
 * `candles:<interval>`: today's candles, then each change; `ticker`: the rolling 24 h ticker.
 */
export const CHANNELS = ['book', 'trades', ...INTERVALS.map((i) => `candles:${i}` as const), 'ticker'] as const;
export type Channel = (typeof CHANNELS)[number];

export type ClientMessage =
  | {
      action: 'subscribe';
      symbol: string;
      /** The channels asked for, without repeats; `["book"]` when the message names none. */
      channels: Channel[];
      /** History resolution in ms (the book's); 0: no history; undefined: the server's default. */
      resolutionMs: number | undefined;
      /** Per channel, where the client resumes instead of starting afresh. */
      resume: Partial<Record<Channel, ResumePoint>> | undefined;
    }
  /** `channels` undefined: every channel of the symbol. */
  | { action: 'unsubscribe'; symbol: string; channels: Channel[] | undefined }
  | { action: 'ping'; id: string | number | undefined }
  /** Presents a credential (API key or JWT): at the start, or a fresh token before the current one's grace ends. */
  | { action: 'auth'; token: string };

export type ParseResult = { ok: true; msg: ClientMessage } | { ok: false; code: ErrorCode; message: string };

export const SYMBOL_MAX_LENGTH = 32;
export const RESOLUTION_MIN_MS = 1_000;
export const RESOLUTION_MAX_MS = 3_600_000;
const PING_ID_MAX_LENGTH = 64;
/** As CREDENTIAL_MAX_LENGTH of the authenticator (protocol does not import auth). */
export const TOKEN_MAX_LENGTH = 8192;

const SYMBOL_ERROR = `expected a string of 1-${SYMBOL_MAX_LENGTH} characters [A-Za-z0-9._:/-]`;
const RESOLUTION_ERROR = 'expected "none", a duration from "1s" to "1h" such as "1s", "5m", "1h", or whole seconds 1-3600';
const DURATION_UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000 };

const symbolSchema = z
  .string({ error: SYMBOL_ERROR })
  .regex(new RegExp(`^[A-Za-z0-9._:/-]{1,${SYMBOL_MAX_LENGTH}}$`), { error: SYMBOL_ERROR });

const durationMs = (v: string): number => Number(v.slice(0, -1)) * DURATION_UNIT_MS[v.slice(-1)];
const DURATION_RE = /^\d{1,7}[smh]$/;
const SECONDS_RE = /^\d{1,7}$/;

/**
 * A history resolution in ms (0 for "none"), from a message field or a query parameter:
 * "none", a duration "1s".."1h", or whole seconds 1..3600 (a number, or digits in a query).
 * On failure, `message` says what is expected; the caller prefixes the field's name.
 */
export function parseResolution(value: unknown): { ok: true; ms: number } | { ok: false; message: string } {
  if (value === 'none') return { ok: true, ms: 0 };
  let ms = 0;
  if (typeof value === 'number' && Number.isInteger(value)) ms = value * 1_000;
  else if (typeof value === 'string' && SECONDS_RE.test(value)) ms = Number(value) * 1_000;
  else if (typeof value === 'string' && DURATION_RE.test(value)) ms = durationMs(value);
  // "0s" and 0 are rejected, not read as "none": a client asking for none says so.
  if (ms >= RESOLUTION_MIN_MS && ms <= RESOLUTION_MAX_MS) return { ok: true, ms };
  return { ok: false, message: RESOLUTION_ERROR };
}

const resolutionSchema = z.unknown().transform((v, ctx): number => {
  const r = parseResolution(v);
  if (r.ok) return r.ms;
  ctx.issues.push({ code: 'custom', message: r.message, input: v });
  return z.NEVER;
});

// One form only: `resume: {seq, epoch}`. Top-level `last_seq`/`epoch` are not aliases; a
// client sending them is simply not resumed (it gets history and the latest state instead).
const resumeSchema = z.object(
  {
    seq: z.number({ error: 'expected an integer >= 0' }).int({ error: 'expected an integer >= 0' })
      .min(0, { error: 'expected an integer >= 0' }),
    epoch: z.number({ error: 'expected an integer > 0' }).int({ error: 'expected an integer > 0' })
      .min(1, { error: 'expected an integer > 0' }),
  },
  { error: 'expected an object {"seq": <last seq received>, "epoch": <its epoch>}' },
);

const CHANNELS_ERROR = `expected an array of 1-${CHANNELS.length} of ${CHANNELS.map((c) => JSON.stringify(c)).join(', ')}`;
const channelsSchema = z
  .array(z.enum(CHANNELS, { error: `expected one of ${CHANNELS.map((c) => JSON.stringify(c)).join(', ')}` }), { error: CHANNELS_ERROR })
  .min(1, { error: CHANNELS_ERROR })
  .max(8, { error: CHANNELS_ERROR })
  .transform((cs) => [...new Set(cs)]);

// Two forms: `{seq, epoch}` resumes the book (the form clients of the book alone send), and
// `{"book": {seq, epoch}, "trades": {seq, epoch}}` resumes each channel named.
const perChannelResumeSchema = z.strictObject(
  Object.fromEntries(CHANNELS.map((c) => [c, resumeSchema.optional()])) as Record<Channel, z.ZodOptional<typeof resumeSchema>>,
  { error: `expected {"seq","epoch"} or per channel {${CHANNELS.map((c) => `"${c}": {"seq","epoch"}`).join(', ')}}` },
);
const channelResumeSchema = z.unknown().transform((v, ctx): Partial<Record<Channel, ResumePoint>> => {
  const perChannel = typeof v === 'object' && v !== null && !Array.isArray(v) && CHANNELS.some((c) => c in v);
  const r = perChannel ? perChannelResumeSchema.safeParse(v) : resumeSchema.safeParse(v);
  if (r.success) return perChannel ? (r.data as Partial<Record<Channel, ResumePoint>>) : { book: r.data as ResumePoint };
  for (const issue of r.error.issues) ctx.issues.push({ ...issue, input: v } as never);
  return z.NEVER;
});

const subscribeSchema = z.object({
  symbol: symbolSchema,
  channels: channelsSchema.optional(),
  resolution: resolutionSchema.optional(),
  resume: channelResumeSchema.optional(),
});
const unsubscribeSchema = z.object({ symbol: symbolSchema, channels: channelsSchema.optional() });
const PING_ID_IS = { error: `expected a string of at most ${PING_ID_MAX_LENGTH} characters or a number` };
const pingSchema = z.object({
  id: z.union([z.string(PING_ID_IS).max(PING_ID_MAX_LENGTH, PING_ID_IS), z.number(PING_ID_IS)], PING_ID_IS).optional(),
});

const TOKEN_IS = { error: `expected an API key or a JWT, a string of 1-${TOKEN_MAX_LENGTH} characters` };
const authSchema = z.object({ token: z.string(TOKEN_IS).min(1, TOKEN_IS).max(TOKEN_MAX_LENGTH, TOKEN_IS) });

const ACTION_ERROR = `action: expected one of ${CLIENT_ACTIONS.map((a) => JSON.stringify(a)).join(', ')}`;

const fail = (code: ErrorCode, message: string): ParseResult => ({ ok: false, code, message });

/** The first issue as `field.path: what was expected`. */
function describe(error: z.ZodError): string {
  const issue = error.issues[0];
  const path = issue.path.length > 0 ? issue.path.join('.') : 'message';
  return `${path}: ${issue.message}`;
}

/** Validates one client text frame. Never throws. */
export function parseClientMessage(text: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fail('invalid_json', 'message: not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('invalid_message', 'message: expected a JSON object such as {"action":"subscribe","symbol":"US.AAPL"}');
  }
  const action = (value as Record<string, unknown>).action;
  if (typeof action !== 'string') return fail('invalid_message', ACTION_ERROR);
  switch (action) {
    case 'subscribe': {
      const r = subscribeSchema.safeParse(value);
      if (!r.success) return fail('invalid_message', describe(r.error));
      return {
        ok: true,
        msg: { action, symbol: r.data.symbol, channels: r.data.channels ?? ['book'], resolutionMs: r.data.resolution, resume: r.data.resume },
      };
    }
    case 'unsubscribe': {
      const r = unsubscribeSchema.safeParse(value);
      if (!r.success) return fail('invalid_message', describe(r.error));
      return { ok: true, msg: { action, symbol: r.data.symbol, channels: r.data.channels } };
    }
    case 'ping': {
      const r = pingSchema.safeParse(value);
      if (!r.success) return fail('invalid_message', describe(r.error));
      return { ok: true, msg: { action, id: r.data.id } };
    }
    case 'auth': {
      const r = authSchema.safeParse(value);
      if (!r.success) return fail('invalid_message', describe(r.error));
      return { ok: true, msg: { action, token: r.data.token } };
    }
    default: {
      // Truncated: the message is echoed to the client and logged.
      const shown = action.length > 32 ? `${action.slice(0, 32)}…` : action;
      return fail('unknown_action', `unknown action ${JSON.stringify(shown)}: ${ACTION_ERROR}`);
    }
  }
}

/** `{"type":"error","code":…,"message":…}`, with `"symbol"` when the error concerns one. */
export function errorFrame(code: ErrorCode, message: string, extra?: { symbol?: string }): string {
  return extra?.symbol === undefined
    ? JSON.stringify({ type: 'error', code, message })
    : JSON.stringify({ type: 'error', code, message, symbol: extra.symbol });
}

/** `{"type":"pong"}`, echoing the ping's `id` when it had one. */
export function pongFrame(id?: string | number): string {
  return id === undefined ? '{"type":"pong"}' : JSON.stringify({ type: 'pong', id });
}

/** A credential was accepted: who the connection acts as now, and until when (null: no expiry). */
export function authenticatedFrame(user: string, scopes: readonly string[], expiresAtMs: number | undefined, symbols?: readonly string[]): string {
  return JSON.stringify({
    type: 'authenticated', user, scopes, expires_at: isoOrNull(expiresAtMs),
    ...(symbols ? { symbols } : {}),
  });
}

/**
 * The connection's token expired: send `{"action":"auth","token":<fresh>}` within `grace_ms`,
 * or the connection is closed (AUTH=all, code 4408) or goes on without its identity.
 */
export function tokenExpiredFrame(graceMs: number): string {
  return JSON.stringify({ type: 'token_expired', grace_ms: graceMs });
}

/** Confirms an unsubscribe: no further frames of these channels of the symbol follow (all of them when the request named none). */
export function unsubscribedFrame(symbol: string, channels?: readonly Channel[]): string {
  return channels === undefined ? JSON.stringify({ type: 'unsubscribed', symbol }) : JSON.stringify({ type: 'unsubscribed', symbol, channels });
}

/**
 * A symbol's state when it is not simply streaming: `stale` (its feed went quiet), `resyncing`
 * (its exchange book is being rebuilt after a gap, a checksum mismatch or a reconnect: no updates
 * until it is; the shard encodes that frame, with a `reason`), `live` (updates returned after
 * `stale` or `resyncing`), `no_data` (known to a feed, but no valid book accepted yet: its first
 * `orderbook_snapshot` follows when one is). `since` is when, as ISO time; a non-finite sinceMs
 * is a caller bug, but must not throw on the front actor: it becomes null.
 */
export type SymbolStatus = 'live' | 'stale' | 'resyncing' | 'no_data';

export function statusFrame(symbol: string, status: SymbolStatus, sinceMs: number): string {
  return JSON.stringify({ type: 'status', symbol, status, since: isoOrNull(sinceMs) });
}

/** ISO time, or null for what is not a representable date (frames must never throw on the front actor). */
function isoOrNull(ms: number | undefined): string | null {
  return ms !== undefined && Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : null;
}
