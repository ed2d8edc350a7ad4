// A WebSocket client over a bare TCP socket, for checking what is on the wire (close frames, their codes).
import { connect } from 'node:net';

export interface RawFrame {
  opcode: number; // 0x1 text, 0x8 close, …
  payload: Buffer;
}

/** Close frames carry the code in their first two payload bytes (RFC 6455 §5.5.1). */
export const closeCode = (f: RawFrame): number | undefined => (f.opcode === 0x8 && f.payload.length >= 2 ? f.payload.readUInt16BE(0) : undefined);

/**
 * Upgrades at `url`, sends `message` as one masked text frame, and collects the server's frames
 * until it closes the TCP connection (or `ms` passes).
 */
export function sendRaw(url: string, message: Buffer, ms = 5000): Promise<RawFrame[]> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: u.hostname, port: Number(u.port) });
    let buf = Buffer.alloc(0);
    let upgraded = false;
    const frames: RawFrame[] = [];
    const timer = setTimeout(() => socket.destroy(), ms);
    socket.on('connect', () => {
      socket.write(`GET ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    });
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (!buf.subarray(0, end).toString().startsWith('HTTP/1.1 101')) return reject(new Error(buf.toString()));
        upgraded = true;
        buf = buf.subarray(end + 4);
        socket.write(frame(message));
      }
      for (;;) {
        if (buf.length < 2) return;
        let len = buf[1] & 0x7f;
        let at = 2;
        if (len === 126) [len, at] = [buf.length >= 4 ? buf.readUInt16BE(2) : -1, 4];
        else if (len === 127) [len, at] = [buf.length >= 10 ? Number(buf.readBigUInt64BE(2)) : -1, 10];
        if (len < 0 || buf.length < at + len) return;
        frames.push({ opcode: buf[0] & 0x0f, payload: buf.subarray(at, at + len) });
        buf = buf.subarray(at + len);
      }
    });
    socket.on('error', () => undefined); // a reset is an outcome the caller inspects through the frames
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(frames);
    });
  });
}

/** A masked (zero mask: legal, leaves the payload as is) final text frame. */
function frame(payload: Buffer): Buffer {
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x81, 0x80 | n]) : n < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (n >= 126 && n < 65536) {
    head[0] = 0x81;
    head[1] = 0x80 | 126;
    head.writeUInt16BE(n, 2);
  } else if (n >= 65536) {
    head[0] = 0x81;
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([head, Buffer.alloc(4), payload]);
}
