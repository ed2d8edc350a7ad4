// Raw HTTP over TCP: bytes no HTTP client library would send (bad framing, lying lengths, broken request lines).
import { connect } from 'node:net';

export interface RawHttpResult {
  /** The status of the first response, undefined when none came (the server may rightly just close). */
  status: number | undefined;
  /** The response head and the start of its body, for the report. */
  preview: string;
  timedOut: boolean;
  error?: string;
}

export interface RawHttpOptions {
  timeoutMs: number;
  /** End our side after writing (a client that sends a short body and stops). */
  halfClose?: boolean;
}

const KEEP_BYTES = 4096;

/** Writes `parts` in order (separate writes, so a server reading in chunks sees the seams) and collects the answer. */
export function rawHttp(host: string, port: number, parts: readonly Buffer[], o: RawHttpOptions): Promise<RawHttpResult> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const kept: Buffer[] = [];
    let keptBytes = 0;
    let error: string | undefined;
    let timedOut = false;
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(kept).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : undefined, preview: text.slice(0, 600), timedOut, error });
    };
    const timer = setTimeout(() => {
      timedOut = true;
      finish();
    }, o.timeoutMs);
    // A reset or EPIPE after the server answered (413 before the body was sent) is an ordinary outcome.
    socket.on('error', (e) => {
      error = e.message;
      finish();
    });
    socket.on('close', finish);
    socket.on('data', (c: Buffer) => {
      if (keptBytes < KEEP_BYTES) {
        kept.push(c);
        keptBytes += c.length;
      }
    });
    socket.on('connect', () => {
      for (const p of parts) if (!socket.destroyed) socket.write(p);
      if (o.halfClose) socket.end();
    });
  });
}
