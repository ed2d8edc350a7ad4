// A WebSocket client over a bare TCP socket: any upgrade request, any frame (bad opcodes, RSV bits, no mask, lying lengths).
//
// A library client refuses to send what a fuzzer needs to send, so this one writes bytes. It
// reads the server's frames only as far as a report needs: close codes, `error` frame codes and
// counts; payloads of large frames (live updates, history) are skipped without being copied.
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { Rng } from './rng.js';

export const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa } as const;

export interface FrameSpec {
  opcode: number;
  payload: Buffer;
  /** Default true; false starts or continues a fragmented message. */
  fin?: boolean;
  /** RSV1..3 as bits 4..6 of the first byte (0..7); nothing was negotiated, so any is a protocol error. */
  rsv?: number;
  /** Clients must mask (RFC 6455 §5.3): 'none' sends an unmasked frame, 'zero' a legal all-zero mask. */
  mask?: 'random' | 'zero' | 'none';
  /** Length field form: minimal, or a legal-but-unusual wider form. */
  lengthForm?: 'minimal' | '16' | '64';
  /** Announce this length instead of the payload's (a lie: the server waits for bytes, or refuses a huge frame). */
  announce?: number;
}

export function encodeFrame(f: FrameSpec, rng: Rng): Buffer {
  const n = f.announce ?? f.payload.length;
  const form = f.lengthForm === '64' || n > 0xffff ? 64 : f.lengthForm === '16' || n > 125 ? 16 : 7;
  const maskMode = f.mask ?? 'random';
  const head = Buffer.alloc(2 + (form === 16 ? 2 : form === 64 ? 8 : 0) + (maskMode === 'none' ? 0 : 4));
  head[0] = ((f.fin ?? true) ? 0x80 : 0) | ((f.rsv ?? 0) & 7) << 4 | (f.opcode & 0x0f);
  const maskBit = maskMode === 'none' ? 0 : 0x80;
  let at = 2;
  if (form === 7) head[1] = maskBit | n;
  else if (form === 16) {
    head[1] = maskBit | 126;
    head.writeUInt16BE(n & 0xffff, 2);
    at = 4;
  } else {
    head[1] = maskBit | 127;
    head.writeBigUInt64BE(BigInt(n), 2);
    at = 10;
  }
  if (maskMode === 'none') return Buffer.concat([head, f.payload]);
  const key = maskMode === 'zero' ? Buffer.alloc(4) : rng.bytes(4);
  key.copy(head, at);
  const body = Buffer.allocUnsafe(f.payload.length);
  for (let i = 0; i < body.length; i++) body[i] = f.payload[i] ^ key[i & 3];
  return Buffer.concat([head, body]);
}

/** What the server said, summed over every raw connection. */
export interface WsTally {
  framesIn: number;
  bytesIn: number;
  /** `{"type":"error","code":…}` frames by code. */
  errorCodes: Record<string, number>;
  /** Close frames the server started, by code ('none' when the payload had no code). */
  closeCodes: Record<string, number>;
  /** Close frames answering one of ours (echoes). */
  closeEchoes: number;
  /** Connections the server ended without a close frame. */
  cutWithoutClose: number;
  /** Upgrade answers other than 101, by status ('no answer' when the connection closed first). */
  upgradeRefusals: Record<string, number>;
  /** A few 5xx upgrade answers, for the report. */
  upgrade5xx: { request: string; status: number; body: string }[];
}

export function newTally(): WsTally {
  return { framesIn: 0, bytesIn: 0, errorCodes: {}, closeCodes: {}, closeEchoes: 0, cutWithoutClose: 0, upgradeRefusals: {}, upgrade5xx: [] };
}

const bump = (o: Record<string, number>, k: string, n = 1) => {
  o[k] = (o[k] ?? 0) + n;
};

/** Payloads up to this size are read (error frames, close frames, small answers); larger ones skipped. */
const CAPTURE_MAX = 2048;
const ERROR_PREFIX = Buffer.from('{"type":"error"');

export interface UpgradeRequest {
  path: string;
  /** Extra or replacing headers, in order; a null value drops the default header of that name. */
  headers?: [string, string | null][];
  /** Replaces the whole request (an upgrade fuzz case): sent as is. */
  raw?: Buffer;
}

export type Connected = { ok: true; ws: RawWs } | { ok: false; status: number | 'no answer' | 'error'; body: string };

export class RawWs {
  /** The server's close frame code, once one arrived. */
  closeCode: number | undefined;
  private open = true;
  private sentClose = false;
  private pending: Buffer | undefined;
  private skip = 0;
  readonly done: Promise<void>;

  private constructor(private readonly socket: Socket, private readonly tally: WsTally, private readonly rng: Rng) {
    this.done = new Promise((resolve) => socket.once('close', () => {
      if (this.open && this.closeCode === undefined) tally.cutWithoutClose++;
      this.open = false;
      resolve();
    }));
  }

  /** Connects and upgrades; resolves with the socket, or the status the server answered instead. */
  static connect(host: string, port: number, req: UpgradeRequest, tally: WsTally, rng: Rng, timeoutMs = 5000): Promise<Connected> {
    return new Promise((resolve) => {
      const socket = connect({ host, port });
      socket.setNoDelay(true);
      let head = Buffer.alloc(0);
      let settled = false;
      const finish = (r: Connected) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (!r.ok) socket.destroy();
        resolve(r);
      };
      const timer = setTimeout(() => finish({ ok: false, status: 'no answer', body: 'timeout' }), timeoutMs);
      socket.on('error', (e) => finish({ ok: false, status: 'error', body: e.message }));
      socket.on('close', () => finish({ ok: false, status: 'no answer', body: '' }));
      const request = req.raw ?? upgradeRequest(host, port, req);
      socket.on('connect', () => socket.write(request));
      const onData = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) {
          if (head.length > 64 * 1024) finish({ ok: false, status: 'no answer', body: 'oversized response head' });
          return;
        }
        const statusLine = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? NaN);
        if (status !== 101) {
          const text = head.toString('latin1');
          // Let the body arrive (replies close their connection) so a 5xx can be shown with it.
          socket.off('data', onData);
          const rest: Buffer[] = [head.subarray(end + 4)];
          socket.on('data', (c: Buffer) => rest.push(c));
          const done = () => finish({ ok: false, status: Number.isNaN(status) ? 'no answer' : status, body: text.slice(0, end) + '\n\n' + Buffer.concat(rest).toString('utf8').slice(0, 500) });
          socket.once('close', done);
          setTimeout(done, 500);
          return;
        }
        socket.off('data', onData);
        const ws = new RawWs(socket, tally, rng);
        socket.on('data', (c: Buffer) => ws.onData(c));
        const after = head.subarray(end + 4);
        if (after.length > 0) ws.onData(after);
        finish({ ok: true, ws });
      };
      socket.on('data', onData);
    });
  }

  get isOpen(): boolean {
    return this.open && !this.socket.destroyed && this.closeCode === undefined;
  }

  /** Writes bytes; resolves once the socket has taken them (waits for 'drain' under backpressure). */
  write(bytes: Buffer): Promise<void> {
    if (!this.isOpen) return Promise.resolve();
    if (this.socket.write(bytes)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.once('drain', done);
      this.socket.once('close', done);
    });
  }

  send(f: FrameSpec): Promise<void> {
    if (f.opcode === OP.CLOSE) this.sentClose = true;
    return this.write(encodeFrame(f, this.rng));
  }

  /** A polite close: a close frame, then up to `waitMs` for the server's, then the socket goes. */
  async close(code = 1000, waitMs = 300): Promise<void> {
    if (this.isOpen) {
      const payload = Buffer.alloc(2);
      payload.writeUInt16BE(code);
      await this.send({ opcode: OP.CLOSE, payload });
      await Promise.race([this.done, new Promise((r) => setTimeout(r, waitMs))]);
    }
    this.destroy();
  }

  destroy(): void {
    this.open = false;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.tally.bytesIn += chunk.length;
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    let at = 0;
    while (at < buf.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, buf.length - at);
        this.skip -= n;
        at += n;
        continue;
      }
      if (buf.length - at < 2) break;
      const b0 = buf[at];
      const b1 = buf[at + 1];
      let len = b1 & 0x7f;
      let headLen = 2;
      if (len === 126) {
        if (buf.length - at < 4) break;
        len = buf.readUInt16BE(at + 2);
        headLen = 4;
      } else if (len === 127) {
        if (buf.length - at < 10) break;
        len = Number(buf.readBigUInt64BE(at + 2));
        headLen = 10;
      }
      if (b1 & 0x80) headLen += 4; // servers do not mask; tolerated, payload left masked (only counted)
      if (buf.length - at < headLen) break;
      const opcode = b0 & 0x0f;
      this.tally.framesIn++;
      if (len > CAPTURE_MAX) {
        at += headLen;
        this.skip = len;
        continue;
      }
      if (buf.length - at < headLen + len) break;
      this.onFrame(opcode, buf.subarray(at + headLen, at + headLen + len));
      at += headLen + len;
    }
    if (at < buf.length) {
      buf = buf.subarray(at);
      // Copied: a small slice kept from a large chunk would pin all of it.
      this.pending = Buffer.from(buf);
    }
  }

  private onFrame(opcode: number, payload: Buffer): void {
    if (opcode === OP.TEXT && payload.length >= ERROR_PREFIX.length && payload.subarray(0, ERROR_PREFIX.length).equals(ERROR_PREFIX)) {
      let code = 'unparsable';
      try {
        code = String((JSON.parse(payload.toString('utf8')) as { code?: unknown }).code);
      } catch {
        // an error frame that is not JSON is itself a finding: counted under 'unparsable'
      }
      bump(this.tally.errorCodes, code);
    } else if (opcode === OP.CLOSE) {
      this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 0;
      if (this.sentClose) this.tally.closeEchoes++;
      else bump(this.tally.closeCodes, payload.length >= 2 ? String(this.closeCode) : 'none');
      // Echo the close (RFC 6455 §5.5.1), then let the server end the TCP connection.
      if (!this.socket.destroyed) {
        this.socket.write(encodeFrame({ opcode: OP.CLOSE, payload: payload.subarray(0, 2) }, this.rng));
        this.socket.end();
      }
    } else if (opcode === OP.PING && !this.socket.destroyed && this.closeCode === undefined) {
      this.socket.write(encodeFrame({ opcode: OP.PONG, payload }, this.rng));
    }
  }
}

function upgradeRequest(host: string, port: number, req: UpgradeRequest): Buffer {
  const headers = new Map<string, string | null>([
    ['Host', `${host}:${port}`],
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Key', randomBytes(16).toString('base64')],
    ['Sec-WebSocket-Version', '13'],
  ]);
  for (const [k, v] of req.headers ?? []) {
    const existing = [...headers.keys()].find((h) => h.toLowerCase() === k.toLowerCase());
    if (existing !== undefined && existing !== k) headers.delete(existing);
    headers.set(k, v);
  }
  let text = `GET ${req.path} HTTP/1.1\r\n`;
  for (const [k, v] of headers) if (v !== null) text += `${k}: ${v}\r\n`;
  return Buffer.from(text + '\r\n', 'latin1');
}
