// WebSocket fuzz cases: what one fuzzing connection sends, from its upgrade request to its last (often illegal) frame.
//
// A connection runs a plan: an upgrade request, then steps, each one client message (or a burst
// of a few) as one or more frames. Only the last step may break the protocol (bad opcode, RSV
// bits, unmasked frame, invalid UTF-8, oversize control frame…), because the server rightly
// drops the connection after it; everything before it must reach the message parser.
import { messageLimits } from '../src/protocol/close-codes.js';
import { type FrameSpec, OP, type UpgradeRequest } from './raw-ws.js';
import { signedToken } from './jwt.js';
import type { Rng } from './rng.js';
import * as v from './values.js';

export interface SymbolInfo {
  symbol: string;
  epoch: number;
  seq: number;
}

export interface WsContext {
  /** Symbols the server serves, with their epoch and last seq (refreshed during the run). */
  symbols: readonly SymbolInfo[];
  /** A real API key: a few auth messages carry it, so the authenticated paths run too. */
  apiKey?: string;
  /** The server's JWT_SECRET: some tokens are signed with it, so claim checks run too. */
  jwtSecret?: string;
  /** The server's WS_MAX_MESSAGE_BYTES: sizes around its limits are chosen from it. */
  maxMessageBytes: number;
}

export interface WsStep {
  label: string;
  /** Client messages this step counts as (a burst counts each message). */
  messages: number;
  frames?: FrameSpec[];
  /** Bytes written as they are (garbage after the upgrade, a truncated frame). */
  bytes?: Buffer;
  /** The server is expected to drop the connection after this step. */
  terminal?: boolean;
}

export interface WsPlan {
  label: string;
  upgrade: UpgradeRequest;
  steps: WsStep[];
  /** How the connection ends if the server has not ended it: close frame, or TCP cut mid-stream. */
  ending: 'close' | 'cut';
}

// ── messages (text payloads) ────────────────────────────────────────────────────

const RESOLUTIONS: unknown[] = ['none', 'none', 'none', '1s', '5s', '1m', '5m', '1h', 1, 60, 3600, '3600', '0s', '61m', '1d', 3601, 0, -1, 1.5, '', null, '1e3', ' 1m', 'NONE'];

function symbolOf(rng: Rng, ctx: WsContext): string {
  const known = ctx.symbols.length > 0 ? rng.pick(ctx.symbols).symbol : 'US.AAPL';
  return rng.weighted<() => string>([
    [8, () => known],
    [1, () => v.mutateString(rng, known)],
    [1, () => rng.pick(['*', '', 'A'.repeat(32), 'A'.repeat(33), 'US.AAPL:', '../', 'price:stock:*', 'ZZZ.UNKNOWN', 'a/b', 'é', '__proto__'])],
  ])();
}

function resumeOf(rng: Rng, ctx: WsContext): unknown {
  const s = ctx.symbols.length > 0 ? rng.pick(ctx.symbols) : { epoch: Date.now(), seq: 0 };
  return rng.weighted<() => unknown>([
    // Within the ring: replayed. Far behind: resume_unavailable. Ahead: a seq the server never sent.
    [5, () => ({ seq: Math.max(0, s.seq - rng.skewed(30_000)), epoch: s.epoch })],
    [2, () => ({ seq: s.seq + rng.int(1, 1000), epoch: s.epoch })],
    [2, () => ({ seq: rng.skewed(s.seq + 2), epoch: rng.pick([s.epoch - 1, s.epoch + 1, 1, Date.now(), 2 ** 53 - 1]) })],
    [2, () => ({ seq: v.number(rng), epoch: v.number(rng) })],
    [1, () => v.json(rng, 2)],
    [1, () => ({ seq: s.seq })],
    [1, () => ({ epoch: s.epoch, seq: String(s.seq) })],
  ])();
}

/** A credential: the real API key, a token signed with the real secret, or garbage. */
export function token(rng: Rng, ctx: WsContext): string {
  if (ctx.apiKey && rng.chance(0.15)) return ctx.apiKey;
  if (ctx.jwtSecret && rng.chance(0.5)) return signedToken(rng, ctx.jwtSecret, ctx.symbols.map((s) => s.symbol));
  return v.garbageToken(rng, ctx.apiKey);
}

/** A message the protocol accepts (or nearly: unknown symbols, resumes from the future). */
function validMessage(rng: Rng, ctx: WsContext): Record<string, unknown> {
  return rng.weighted<() => Record<string, unknown>>([
    [6, () => {
      const m: Record<string, unknown> = { action: 'subscribe', symbol: symbolOf(rng, ctx) };
      if (rng.chance(0.8)) m.resolution = rng.pick(RESOLUTIONS);
      if (rng.chance(0.4)) m.resume = resumeOf(rng, ctx);
      return m;
    }],
    [4, () => ({ action: 'unsubscribe', symbol: symbolOf(rng, ctx) })],
    [3, () => (rng.chance(0.3) ? { action: 'ping' } : { action: 'ping', id: rng.chance(0.5) ? rng.int(0, 1e9) : v.string(rng, 70) })],
    [3, () => ({ action: 'auth', token: rng.chance(0.85) ? token(rng, ctx) : v.json(rng, 2) })],
  ])();
}

/** A valid message with one thing wrong in it: a field's type or value, a field missing, fields added. */
function mutatedObject(rng: Rng, ctx: WsContext): unknown {
  const m = validMessage(rng, ctx);
  const keys = Object.keys(m);
  for (let n = rng.int(1, 3); n > 0; n--) {
    switch (rng.int(0, 7)) {
      case 0: m[rng.pick(keys)] = v.json(rng, 3); break;
      case 1: delete m[rng.pick(keys)]; break;
      case 2: for (let i = rng.skewed(60); i >= 0; i--) m[v.string(rng, 10)] = v.json(rng, 1); break;
      case 3: m.action = v.mutateString(rng, v.text(m.action ?? 'subscribe')); break;
      case 4: m.symbol = v.mutateString(rng, symbolOf(rng, ctx)); break;
      case 5: m.resolution = rng.chance(0.5) ? v.json(rng, 2) : v.mutateString(rng, v.text(rng.pick(RESOLUTIONS))); break;
      case 6: m.resume = resumeOf(rng, ctx); break;
      default: return rng.chance(0.5) ? [m] : JSON.stringify(m);
    }
  }
  return m;
}

/** A JSON text written by hand: number literals JSON.stringify cannot produce, duplicate keys, near-JSON. */
function textMutation(rng: Rng, ctx: WsContext): string {
  const s = symbolOf(rng, ctx);
  const n = () => v.numberText(rng);
  const base = JSON.stringify(validMessage(rng, ctx));
  return rng.weighted<() => string>([
    [4, () => `{"action":"subscribe","symbol":${JSON.stringify(s)},"resume":{"seq":${n()},"epoch":${n()}}}`],
    [2, () => `{"action":"subscribe","symbol":${JSON.stringify(s)},"resolution":${n()}}`],
    [2, () => `{"action":"ping","id":${n()}}`],
    [1, () => `{"action":"ping","action":"subscribe","symbol":${JSON.stringify(s)}}`],
    [1, () => `{"action":"subscribe","symbol":${JSON.stringify(s)},"symbol":${JSON.stringify(v.string(rng, 10))}}`],
    [1, () => `\ufeff${base}`],
    [1, () => `${base}${rng.pick(['x', ',', '}', ' {}', '\0', '//', '\n{"action":"ping"}'])}`],
    [1, () => base.slice(0, rng.int(0, base.length - 1))],
    [1, () => base.replace(/"/g, "'")],
    [1, () => base.replace('}', ',}')],
    [1, () => base.replace(/:/, ': /*c*/ ')],
    [1, () => {
      const i = rng.int(0, base.length - 1);
      return base.slice(0, i) + String.fromCharCode(rng.int(0, 0xffff)) + base.slice(i + 1);
    }],
    [1, () => ' \t\r\n'.repeat(rng.int(1, 50)) + base + ' '.repeat(rng.int(0, 50))],
    [1, () => base.replace(/"(\w)/g, (_, c: string) => `"\\u00${c.charCodeAt(0).toString(16).padStart(2, '0')}`)],
  ])();
}

/** One text payload of a non-terminal case. */
function textCase(rng: Rng, ctx: WsContext): { label: string; text: string | Buffer } {
  const limit = ctx.maxMessageBytes;
  return rng.weighted<() => { label: string; text: string | Buffer }>([
    [10, () => ({ label: 'valid message', text: JSON.stringify(validMessage(rng, ctx)) })],
    [20, () => ({ label: 'mutated message', text: JSON.stringify(mutatedObject(rng, ctx)) })],
    [10, () => ({ label: 'hand-written JSON', text: textMutation(rng, ctx) })],
    [6, () => ({ label: 'random JSON', text: JSON.stringify(v.json(rng, 4)) ?? 'null' })],
    [4, () => ({ label: 'random text', text: v.string(rng, 200) })],
    [3, () => ({ label: 'deep JSON', text: v.deepJsonText(rng, rng.chance(0.8) ? rng.int(10, Math.floor(limit / 9)) : rng.int(limit, 20_000)) })],
    [3, () => ({ label: 'wide JSON', text: v.wideJsonText(rng, rng.int(10, 300), rng.chance(0.5) ? '"action":"ping"' : '') })],
    [1, () => ({ label: 'empty text', text: '' })],
    [1, () => ({ label: 'oversize text (error, stays open)', text: JSON.stringify({ action: 'ping', id: 'x'.repeat(rng.int(limit, messageLimits(limit).closeBytes - 40)) }) })],
  ])();
}

// ── frames ─────────────────────────────────────────────────────────────────────

const utf8 = (t: string | Buffer) => (typeof t === 'string' ? Buffer.from(t, 'utf8') : t);

function textFrame(rng: Rng, payload: Buffer): FrameSpec {
  return {
    opcode: OP.TEXT, payload,
    mask: rng.chance(0.05) ? 'zero' : 'random',
    lengthForm: rng.chance(0.05) ? rng.pick(['16', '64'] as const) : 'minimal',
  };
}

function control(rng: Rng, max = 125): FrameSpec {
  return { opcode: rng.chance(0.6) ? OP.PING : OP.PONG, payload: rng.bytes(rng.skewed(max + 1)) };
}

/** A legal fragmented message: split anywhere (inside a UTF-8 character too), control frames between fragments. */
function fragmented(rng: Rng, payload: Buffer): FrameSpec[] {
  const cuts = Array.from({ length: rng.int(1, 6) }, () => rng.int(0, payload.length)).sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let prev = 0;
  for (const c of [...cuts, payload.length]) {
    parts.push(payload.subarray(prev, c));
    prev = c;
  }
  const frames: FrameSpec[] = [];
  parts.forEach((p, i) => {
    frames.push({ opcode: i === 0 ? OP.TEXT : OP.CONT, fin: i === parts.length - 1, payload: p });
    if (i < parts.length - 1 && rng.chance(0.4)) frames.push(control(rng));
  });
  return frames;
}

/** One non-terminal step: a message in one frame or several, a burst, a binary frame, or control frames. */
function step(rng: Rng, ctx: WsContext): WsStep {
  const kind = rng.weighted<string>([[70, 'text'], [6, 'burst'], [6, 'fragmented'], [4, 'binary'], [4, 'control'], [2, 'utf8-split']]);
  switch (kind) {
    case 'burst': {
      // subscribe / unsubscribe / resume of one symbol back to back: the subscription's state
      // machine (history pending, seam, live) sees each transition at every stage.
      const symbol = symbolOf(rng, ctx);
      const n = rng.int(2, 8);
      const frames = Array.from({ length: n }, () => {
        const m: Record<string, unknown> = rng.chance(0.5)
          ? { action: 'subscribe', symbol, resolution: rng.pick(RESOLUTIONS), ...(rng.chance(0.5) ? { resume: resumeOf(rng, ctx) } : {}) }
          : { action: 'unsubscribe', symbol };
        return textFrame(rng, utf8(JSON.stringify(m)));
      });
      return { label: 'subscribe/unsubscribe/resume burst', messages: n, frames };
    }
    case 'fragmented': {
      const t = textCase(rng, ctx);
      return { label: `fragmented ${t.label}`, messages: 1, frames: fragmented(rng, utf8(t.text)) };
    }
    case 'utf8-split': {
      const text = JSON.stringify({ action: 'ping', id: 'é漢😀'.repeat(rng.int(1, 10)) });
      return { label: 'fragments split inside UTF-8 characters', messages: 1, frames: fragmented(rng, utf8(text)) };
    }
    case 'binary': {
      const payload = rng.chance(0.5) ? utf8(JSON.stringify(validMessage(rng, ctx))) : rng.bytes(rng.skewed(600));
      return { label: 'binary frame', messages: 1, frames: [{ opcode: OP.BINARY, payload }] };
    }
    case 'control':
      return { label: 'ping/pong with odd payloads', messages: 1, frames: Array.from({ length: rng.int(1, 3) }, () => control(rng)) };
    default: {
      const t = textCase(rng, ctx);
      return { label: t.label, messages: 1, frames: [textFrame(rng, utf8(t.text))] };
    }
  }
}

const CLOSE_CODES = [0, 1, 999, 1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1015, 1016, 2999, 3000, 4000, 4429, 4999, 5000, 65535];

function closePayload(rng: Rng): Buffer {
  if (rng.chance(0.15)) return rng.bytes(rng.int(0, 1)); // empty is legal, one byte is not
  const code = Buffer.alloc(2);
  code.writeUInt16BE(rng.pick(CLOSE_CODES));
  const reason = rng.weighted<() => Buffer>([
    [2, () => Buffer.alloc(0)],
    [2, () => utf8(v.string(rng, 60)).subarray(0, 123)],
    [1, () => v.invalidUtf8(rng, 'bye')],
    [1, () => Buffer.alloc(123, 0x61)],
    [1, () => Buffer.alloc(rng.int(124, 400), 0x61)], // over the 125-byte control frame limit
  ])();
  return Buffer.concat([code, reason]);
}

/** The last step of a connection, breaking the protocol in one way; the server is expected to drop the connection. */
function terminalStep(rng: Rng, ctx: WsContext): WsStep {
  const limits = messageLimits(ctx.maxMessageBytes);
  const msg = () => utf8(JSON.stringify(validMessage(rng, ctx)));
  const t = (label: string, frames: FrameSpec[]): WsStep => ({ label, messages: 1, frames, terminal: true });
  return rng.weighted<() => WsStep>([
    [4, () => t('invalid UTF-8 in a text frame', [{ opcode: OP.TEXT, payload: v.invalidUtf8(rng, JSON.stringify(validMessage(rng, ctx))) }])],
    [2, () => t('invalid UTF-8 across fragments', [{ opcode: OP.TEXT, fin: false, payload: utf8('{"action":"ping","id":"') }, { opcode: OP.CONT, payload: v.invalidUtf8(rng, '"}') }])],
    [3, () => t('continuation without a message', [{ opcode: OP.CONT, payload: msg() }])],
    [3, () => t('new message inside a fragmented one', [{ opcode: OP.TEXT, fin: false, payload: utf8('{"action":') }, { opcode: OP.TEXT, payload: msg() }])],
    [2, () => t('fragmented control frame', [{ opcode: OP.PING, fin: false, payload: rng.bytes(4) }, { opcode: OP.CONT, payload: rng.bytes(4) }])],
    [3, () => t('oversize control frame', [{ opcode: rng.pick([OP.PING, OP.PONG, OP.CLOSE]), payload: rng.bytes(rng.int(126, 70_000)) }])],
    [5, () => t('close with an odd payload', [{ opcode: OP.CLOSE, payload: closePayload(rng) }])],
    [3, () => t('reserved bits set', [{ opcode: rng.pick([OP.TEXT, OP.BINARY, OP.PING]), rsv: rng.int(1, 7), payload: msg() }])],
    [3, () => t('reserved opcode', [{ opcode: rng.pick([3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]), payload: rng.bytes(rng.skewed(200)) }])],
    [3, () => t('unmasked frame', [{ opcode: rng.pick([OP.TEXT, OP.PING, OP.CLOSE]), mask: 'none', payload: msg() }])],
    [2, () => t('message over the close limit (1009)', [{ opcode: OP.TEXT, payload: utf8(JSON.stringify({ action: 'ping', id: 'y'.repeat(rng.int(limits.closeBytes, limits.uwsBytes - 64)) })) }])],
    [2, () => t('frame announcing more than uWS accepts', [{ opcode: OP.TEXT, payload: rng.bytes(rng.int(0, 100)), announce: rng.pick([limits.uwsBytes + 1, 2 ** 31, 2 ** 53 - 1]) }])],
    [2, () => t('frame announcing more bytes than sent, then EOF', [{ opcode: OP.TEXT, payload: msg(), announce: rng.int(200, 60_000) }])],
    [2, () => ({ label: 'garbage bytes', messages: 1, bytes: rng.bytes(rng.int(1, 3000)), terminal: true })],
    [2, () => ({ label: 'truncated frame header', messages: 1, bytes: Buffer.from([0x81, rng.pick([0xfe, 0xff, 0x85])]), terminal: true })],
    [1, () => ({ label: 'HTTP request after the upgrade', messages: 1, bytes: Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), terminal: true })],
  ])();
}

// ── upgrade requests ───────────────────────────────────────────────────────────

function clientId(rng: Rng): string {
  return rng.weighted<() => string>([
    [6, () => `fuzz-${rng.int(0, 1e6)}`],
    [1, () => v.uriEncode(v.string(rng, 40))],
    [1, () => rng.pick(['%00', '%ff%fe', '..', '%2F..%2F', 'a%20b', '%', '%zz', 'é'])],
    [1, () => 'i'.repeat(rng.pick([100, 1000, 8000]))],
  ])();
}

/** An upgrade request; mostly ordinary, some with odd or missing headers the server must refuse or ignore. */
function upgradeOf(rng: Rng, ctx: WsContext): { label: string; upgrade: UpgradeRequest } {
  const path = rng.chance(0.6) ? '/ws' : `/ws/${clientId(rng)}`;
  if (rng.chance(0.9)) {
    const headers: [string, string | null][] = [];
    if (rng.chance(0.1)) headers.push(['Origin', rng.pick(['http://evil.example', 'null', 'https://localhost:3000', v.string(rng, 40)])]);
    if (rng.chance(0.05)) headers.push(['Authorization', `Bearer ${token(rng, ctx).replace(/[^\x20-\x7e]/g, '')}`]);
    if (rng.chance(0.05)) headers.push(['Sec-WebSocket-Protocol', rng.pick(['chat', 'v1.tickplant', ', ,', v.string(rng, 30)])]);
    if (rng.chance(0.05)) headers.push(['Sec-WebSocket-Extensions', rng.pick(['permessage-deflate', 'permessage-deflate; client_max_window_bits', 'x-unknown; a=b'])]);
    const query = rng.chance(0.05) ? `?token=${v.uriEncode(token(rng, ctx))}` : '';
    return { label: 'upgrade', upgrade: { path: path + query, headers } };
  }
  return rng.weighted<() => { label: string; upgrade: UpgradeRequest }>([
    [1, () => ({ label: 'upgrade without Sec-WebSocket-Key', upgrade: { path, headers: [['Sec-WebSocket-Key', null]] } })],
    [1, () => ({ label: 'upgrade with a malformed key', upgrade: { path, headers: [['Sec-WebSocket-Key', rng.pick(['', 'abc', 'x'.repeat(200), '====', v.string(rng, 30)])]] } })],
    [1, () => ({ label: 'upgrade with another version', upgrade: { path, headers: [['Sec-WebSocket-Version', rng.pick(['8', '0', '14', '', 'thirteen', '13, 8'])]] } })],
    [1, () => ({ label: 'upgrade without Upgrade header', upgrade: { path, headers: [['Upgrade', null]] } })],
    [1, () => ({ label: 'upgrade to another protocol', upgrade: { path, headers: [['Upgrade', rng.pick(['h2c', 'WebSocket', 'websocket, h2c', ''])]] } })],
    [1, () => ({ label: 'upgrade with Connection: close', upgrade: { path, headers: [['Connection', rng.pick(['close', 'keep-alive', 'upgrade', ''])]] } })],
    [1, () => ({ label: 'upgrade of an unrouted path', upgrade: { path: rng.pick(['/ws/a/b', '/wss', '/ws//', '/WS', '/ws%2F', '/ws?', '/ws#x', '//ws']) } })],
    [1, () => ({ label: 'upgrade with a huge header', upgrade: { path, headers: [['X-Fuzz', 'h'.repeat(rng.pick([4000, 9000, 70_000]))]] } })],
    [1, () => ({
      label: 'upgrade request, malformed',
      upgrade: {
        path, raw: Buffer.from(rng.pick([
          `POST ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
          `GET ${path} HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
          `GET ${path}\r\n\r\n`,
          `GET ${path} HTTP/1.1\r\nUpgrade: websocket\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
          `GET ${path} HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nContent-Length: 5\r\n\r\nhello`,
          `GET ${path} HTTP/1.1\nUpgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n\n`,
        ]), 'latin1'),
      },
    })],
  ])();
}

/**
 * One connection's plan, with at most `budget` messages. Most plans are long ordinary sessions
 * ending politely or with one protocol violation; a few are mostly about the upgrade itself.
 */
export function planConnection(rng: Rng, ctx: WsContext, budget: number): WsPlan {
  const { label, upgrade } = upgradeOf(rng, ctx);
  const steps: WsStep[] = [];
  let messages = 0;
  // Long plans are paced for seconds: capped so the run does not end waiting on a few of them.
  const want = Math.min(budget, 1 + rng.skewed(250));
  const terminal = rng.chance(0.45);
  while (messages < want - (terminal ? 1 : 0)) {
    const s = step(rng, ctx);
    if (messages + s.messages > budget) break;
    steps.push(s);
    messages += s.messages;
  }
  if (terminal && messages < budget) steps.push(terminalStep(rng, ctx));
  return { label, upgrade, steps, ending: rng.chance(0.8) ? 'close' : 'cut' };
}

/** One step as a report shows it: each frame's header bits and the start of its payload. */
export function describeStep(s: WsStep): string {
  if (s.bytes) return `${s.label}: raw bytes (${s.bytes.length}) ${JSON.stringify(s.bytes.subarray(0, 200).toString('latin1'))}`;
  const frames = (s.frames ?? []).map((f) => {
    const bits = [`opcode ${f.opcode}`, f.fin === false ? 'fin 0' : '', f.rsv ? `rsv ${f.rsv}` : '', f.mask === 'none' ? 'unmasked' : '', f.announce !== undefined ? `announces ${f.announce}` : ''];
    const text = JSON.stringify(f.payload.subarray(0, 300).toString('utf8'));
    return `[${bits.filter(Boolean).join(', ')}; ${f.payload.length} B ${text}${f.payload.length > 300 ? '…' : ''}]`;
  });
  return `${s.label}: ${frames.join(' ')}`;
}
