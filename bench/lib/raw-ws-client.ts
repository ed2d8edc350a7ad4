// A minimal WebSocket client over node:net for load generation: no extensions, no per-frame allocation.
//
// Client → server: the upgrade request (a fixed Sec-WebSocket-Key, RFC 6455 §1.3's sample) and
// masked text / pong / close frames. Server → client: unmasked frames with 7/16/64-bit lengths,
// split anywhere across TCP chunks. A complete frame's payload is handed to `onMessage` as a
// view (buf, start, end) into the chunk it arrived in: valid only until the callback returns.
// Fragmented messages (continuation frames) are not supported: uWS sends every message whole.

import { connect as netConnect, type Socket } from 'node:net';

/** RFC 6455 §1.3: this key's accept value is fixed, so the handshake needs no hashing. */
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';
const MAX_HANDSHAKE_BYTES = 16 * 1024;
/** Client frames must be masked; a zero mask is legal and leaves the payload as is. */
const MASK = Buffer.alloc(4);

const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

export interface RawWsOptions {
  host: string;
  port: number;
  path: string;
  /** A text or binary message: payload is buf[start, end). Do not keep `buf`. */
  onMessage(buf: Buffer, start: number, end: number): void;
  onClose?(reason: string): void;
  connectTimeoutMs?: number;
}

export class RawWsClient {
  private tail = Buffer.allocUnsafe(4096); // an incomplete frame's bytes, kept across chunks
  private tailLen = 0;
  private closed = false;
  bytesReceived = 0;

  private constructor(private readonly socket: Socket, private readonly o: RawWsOptions) {}

  /** Connects and completes the upgrade; rejects on any non-101 answer or a wrong accept key. */
  static connect(o: RawWsOptions): Promise<RawWsClient> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: o.host, port: o.port, noDelay: true });
      const client = new RawWsClient(socket, o);
      let head = Buffer.alloc(0);
      const timer = setTimeout(() => fail(new Error(`handshake timed out after ${o.connectTimeoutMs ?? 10_000} ms`)), o.connectTimeoutMs ?? 10_000);
      const fail = (e: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(e);
      };
      const onHandshake = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) {
          if (head.length > MAX_HANDSHAKE_BYTES) fail(new Error('handshake response too large'));
          return;
        }
        const text = head.toString('latin1', 0, end);
        if (!text.startsWith('HTTP/1.1 101')) return fail(new Error(`upgrade refused: ${text.split('\r\n')[0]}`));
        if (!new RegExp(`^sec-websocket-accept:\\s*${ACCEPT.replace(/[+/=]/g, '\\$&')}\\s*$`, 'im').test(text)) {
          return fail(new Error('upgrade answered with a wrong Sec-WebSocket-Accept'));
        }
        clearTimeout(timer);
        socket.off('data', onHandshake);
        socket.off('error', fail);
        socket.on('data', (c: Buffer) => client.onData(c));
        socket.on('error', (e) => client.finish(`socket error: ${e.message}`));
        socket.on('close', () => client.finish('socket closed'));
        resolve(client);
        // Frames that arrived in the same chunk as the response headers.
        if (head.length > end + 4) client.onData(head.subarray(end + 4));
      };
      socket.on('data', onHandshake);
      socket.on('error', fail);
      socket.write(
        `GET ${o.path} HTTP/1.1\r\nHost: ${o.host}:${o.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
  }

  sendText(text: string): void {
    this.sendFrame(OP_TEXT, Buffer.from(text, 'utf8'));
  }

  /** Sends a close frame (1000) and ends the socket; the server's reply is not awaited. */
  close(): void {
    if (this.closed) return;
    const code = Buffer.alloc(2);
    code.writeUInt16BE(1000);
    this.sendFrame(OP_CLOSE, code);
    this.socket.end();
    this.finish('closed by client');
  }

  private sendFrame(opcode: number, payload: Buffer): void {
    if (this.closed || this.socket.destroyed) return;
    const n = payload.length;
    const headLen = n < 126 ? 2 : n < 65536 ? 4 : 10;
    const head = Buffer.alloc(headLen + 4);
    head[0] = 0x80 | opcode; // FIN
    if (n < 126) head[1] = 0x80 | n;
    else if (n < 65536) {
      head[1] = 0x80 | 126;
      head.writeUInt16BE(n, 2);
    } else {
      head[1] = 0x80 | 127;
      head.writeBigUInt64BE(BigInt(n), 2);
    }
    MASK.copy(head, headLen); // zero mask: the payload goes out unchanged
    this.socket.write(Buffer.concat([head, payload]));
  }

  private finish(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.o.onClose?.(reason);
  }

  /**
   * Parses every complete frame in place. Only a frame straddling two chunks is copied, into
   * `tail` (about one frame): concatenating whole chunks would copy every byte received.
   */
  private onData(chunk: Buffer): void {
    this.bytesReceived += chunk.length;
    let pos = 0;
    if (this.tailLen > 0) {
      // Header bytes one at a time (≤ 10): copying more could take the next frame's bytes.
      let total = frameLength(this.tail, 0, this.tailLen);
      while (total < 0 && pos < chunk.length) {
        this.tail[this.tailLen++] = chunk[pos++];
        total = frameLength(this.tail, 0, this.tailLen);
      }
      if (total < 0) return; // still no complete header
      const take = Math.min(total - this.tailLen, chunk.length - pos);
      this.reserve(this.tailLen + take);
      chunk.copy(this.tail, this.tailLen, pos, pos + take);
      this.tailLen += take;
      pos += take;
      if (this.tailLen < total) return;
      this.tailLen = 0;
      if (this.frame(this.tail, 0) < 0) return;
    }
    const len = chunk.length;
    while (pos < len && !this.closed) {
      const total = frameLength(chunk, pos, len - pos);
      if (total < 0 || len - pos < total) break;
      if (this.frame(chunk, pos) < 0) return;
      pos += total;
    }
    if (pos < len && !this.closed) {
      this.reserve(len - pos);
      this.tailLen = chunk.copy(this.tail, 0, pos, len);
    }
  }

  private reserve(bytes: number): void {
    if (bytes <= this.tail.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(bytes, this.tail.length * 2));
    this.tail.copy(bigger, 0, 0, this.tailLen);
    this.tail = bigger;
  }

  /** Handles the complete frame at buf[pos]; returns -1 if the connection ended. */
  private frame(buf: Buffer, pos: number): number {
    const b0 = buf[pos];
    const b1 = buf[pos + 1];
    if ((b1 & 0x80) !== 0) return this.protocolError('server frame is masked');
    const opcode = b0 & 0x0f;
    if ((b0 & 0x80) === 0 || opcode === 0) return this.protocolError('fragmented messages are not supported');
    const n = b1 & 0x7f;
    const at = pos + (n < 126 ? 2 : n === 126 ? 4 : 10);
    const end = pos + frameLength(buf, pos, 10);
    if (opcode === OP_TEXT || opcode === OP_BINARY) this.o.onMessage(buf, at, end);
    else if (opcode === OP_PING) this.sendFrame(OP_PONG, Buffer.from(buf.subarray(at, end)));
    else if (opcode === OP_CLOSE) {
      const code = end - at >= 2 ? buf.readUInt16BE(at) : 1005;
      this.sendFrame(OP_CLOSE, Buffer.from(buf.subarray(at, Math.min(end, at + 2))));
      this.socket.end();
      this.finish(`closed by server (${code})`);
      return -1;
    } // OP_PONG: nothing to do
    return 0;
  }

  private protocolError(message: string): number {
    this.finish(`protocol error: ${message}`);
    return -1;
  }
}

/** Bytes of the frame at buf[pos] (header + payload), or -1 if its header is not all in `avail`. */
function frameLength(buf: Buffer, pos: number, avail: number): number {
  if (avail < 2) return -1;
  const n = buf[pos + 1] & 0x7f;
  if (n < 126) return 2 + n;
  if (n === 126) return avail < 4 ? -1 : 4 + buf.readUInt16BE(pos + 2);
  // 2^53 bytes is beyond any frame this client will see: the high word is read as a number.
  return avail < 10 ? -1 : 10 + buf.readUInt32BE(pos + 2) * 2 ** 32 + buf.readUInt32BE(pos + 6);
}
