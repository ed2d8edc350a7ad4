// A test WebSocket client that keeps every message it receives, checks each against the protocol's JSON Schema, and waits for the ones a test expects.
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import WebSocket from 'ws';

/** docs/protocol: defs.schema.json, and server/<type>.schema.json per server → client message. */
const PROTOCOL_DIR = fileURLToPath(new URL('../../docs/protocol/', import.meta.url));
/** RFC 3339 date-time, as the server writes it: UTC or an offset, up to 9 fraction digits. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

let validators: Map<string, ValidateFunction> | undefined;

/** One validator per server message type, compiled once per test file (at its first frame). */
function frameValidators(): Map<string, ValidateFunction> {
  if (validators) return validators;
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: false });
  ajv.addFormat('date-time', { type: 'string', validate: (s: string) => DATE_TIME.test(s) && !Number.isNaN(Date.parse(s)) });
  const read = (path: string) => JSON.parse(readFileSync(PROTOCOL_DIR + path, 'utf8')) as { $id: string; properties: { type: { const: string } } };
  ajv.addSchema(read('defs.schema.json'));
  const compiled = new Map<string, ValidateFunction>();
  for (const file of readdirSync(PROTOCOL_DIR + 'server')) {
    const schema = read(`server/${file}`);
    compiled.set(schema.properties.type.const, ajv.compile(schema));
  }
  return (validators = compiled);
}

/** Server frames that did not match their schema (or had a type no schema describes), since the last take. */
const frameFailures: string[] = [];

/** Why `m` is not a server message its docs/protocol schema allows; undefined when it is one. */
export function frameProblem(m: unknown, text = JSON.stringify(m)): string | undefined {
  const type = typeof m === 'object' && m !== null ? (m as { type?: unknown }).type : undefined;
  let validate: ValidateFunction | undefined;
  try {
    validate = typeof type === 'string' ? frameValidators().get(type) : undefined;
  } catch (e) {
    // A broken schema file: reported as the test's failure, not thrown inside the socket's handler.
    return `docs/protocol schemas do not compile: ${(e as Error).message}`;
  }
  if (!validate) return `a frame of ${typeof type === 'string' ? `unknown type "${type}"` : 'no type'}: ${text.slice(0, 300)}`;
  if (validate(m)) return undefined;
  const e = validate.errors![0];
  return `${type} ${e.instancePath || '/'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''} (docs/protocol/server/${type}.schema.json): ${text.slice(0, 300)}`;
}

/** Checks one received frame; a failure is kept for takeFrameFailures (test/frame-check.ts fails the test with it). */
function checkFrame(m: unknown, text: string): void {
  const problem = frameProblem(m, text);
  if (problem !== undefined) frameFailures.push(problem);
}

/** The schema failures collected so far, emptying the list. */
export function takeFrameFailures(): string[] {
  return frameFailures.splice(0);
}

export interface Msg {
  type: string;
  symbol?: string;
  seq?: number;
  epoch?: number;
  code?: string;
  reason?: string;
  status?: string;
  points?: number;
  data?: unknown;
  receivedAt: number;
  [k: string]: unknown;
}

export class TestClient {
  readonly messages: Msg[] = [];
  closeCode?: number;
  private waiters: (() => void)[] = [];
  readonly closed: Promise<number>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const text = data.toString();
      const m = JSON.parse(text) as Msg;
      checkFrame(m, text);
      m.receivedAt = Date.now();
      this.messages.push(m);
      for (const w of this.waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) => ws.on('close', (code) => resolve((this.closeCode = code))));
  }

  static connect(url: string, options?: WebSocket.ClientOptions): Promise<TestClient> {
    const ws = new WebSocket(url, options);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new TestClient(ws)));
      ws.once('error', reject);
    });
  }

  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  /** Resolves with the first message at index >= `from` matching `pred`. */
  async waitFor(pred: (m: Msg) => boolean, timeoutMs = 10_000, from = 0): Promise<Msg> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.slice(from).find(pred);
      if (found) return found;
      const left = until - Date.now();
      if (left <= 0) {
        const last = this.messages.slice(-3).map((m) => JSON.stringify(m).slice(0, 200));
        throw new Error(`timed out waiting for a message; ${this.messages.length} received, last: ${last.join(' | ')}`);
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Messages about `symbol` that carry a sequence (history, snapshots, updates, resyncs). */
  stream(symbol: string): Msg[] {
    return this.messages.filter((m) => m.symbol === symbol && typeof m.seq === 'number' && m.type !== 'error');
  }

  close(): void {
    this.ws.close();
  }
}

/** The HTTP status a refused upgrade got (101 when it was accepted), with the refusal's JSON body. */
export function upgradeStatus(url: string, options?: WebSocket.ClientOptions): Promise<{ status: number; body?: { error?: { code: string; message: string } } }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.once('open', () => {
      ws.close();
      resolve({ status: 101 });
    });
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
    ws.once('error', (e) => reject(e));
  });
}

/**
 * Checks one symbol's stream as a client would: after historical_data/snapshot/resync at seq S,
 * updates continue at S+1, S+2, … in the same epoch. Returns the problems found (empty: gap-free).
 */
export function sequenceProblems(stream: Msg[]): string[] {
  const problems: string[] = [];
  let epoch: number | undefined;
  let seq: number | undefined;
  for (const m of stream) {
    if (m.type === 'historical_data' || m.type === 'orderbook_snapshot' || m.type === 'resync') {
      if (m.type === 'historical_data' && m.seq === 0) continue; // no history yet: nothing covered
      epoch = m.epoch;
      seq = m.seq;
      continue;
    }
    if (m.type !== 'orderbook_update') continue;
    if (seq !== undefined && (m.epoch !== epoch || m.seq !== seq + 1)) {
      problems.push(`after ${epoch}/${seq} got ${m.type} ${m.epoch}/${m.seq}`);
    }
    epoch = m.epoch;
    seq = m.seq;
  }
  return problems;
}

/**
 * Checks one symbol's trades channel as a client would: a trades_snapshot sets (epoch, seq), each
 * trade continues at seq + 1 in that epoch (after an empty snapshot at epoch 0, the first trade
 * starts the sequence at 1). A trades_snapshot with a reason is a resync: the sequence restarts
 * there. Returns the problems found (empty: gap-free).
 */
export function tradeSequenceProblems(messages: Msg[], symbol: string): string[] {
  const problems: string[] = [];
  let epoch: number | undefined;
  let seq: number | undefined;
  for (const m of messages) {
    if (m.symbol !== symbol) continue;
    if (m.type === 'trades_snapshot') {
      epoch = m.epoch;
      seq = m.seq;
      continue;
    }
    if (m.type !== 'trade') continue;
    const first = epoch === 0 && seq === 0 && m.seq === 1;
    if (seq === undefined) problems.push(`trade ${m.epoch}/${m.seq} before any trades_snapshot`);
    else if (!first && (m.epoch !== epoch || m.seq !== seq + 1)) problems.push(`after ${epoch}/${seq} got trade ${m.epoch}/${m.seq}`);
    epoch = m.epoch;
    seq = m.seq;
  }
  return problems;
}
