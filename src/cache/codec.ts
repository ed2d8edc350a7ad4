// How a value is stored in Redis: its JSON text, or a marker and the deflated JSON when it is large.
//
//   byte 0      byte 1     bytes 2…
//   ┌──────┬──────────┬────────────────────┐
//   │ 0x00 │ 0x01     │ raw deflate of JSON │   compressed (JSON above the namespace's threshold)
//   └──────┴──────────┴────────────────────┘
//   ┌───────────────────────────────────────┐
//   │ JSON text (UTF-8)                      │   everything else: readable with redis-cli
//   └───────────────────────────────────────┘
//
// JSON text never starts with 0x00, so the first byte tells a reader which it is; byte 1 names
// the algorithm so another one can be added without ambiguity.

import { deflateRawSync, inflateRawSync } from 'node:zlib';

export const MARKER = 0x00;
export const ALGO_DEFLATE_RAW = 0x01;

/** Level 1: values are short-lived; speed matters more than the last few percent of size. */
const LEVEL = 1;

/** The Redis payload for `json` (byteLength precomputed by the caller). Strings pass through. */
export function encode(json: string, byteLength: number, thresholdBytes: number): string | Buffer {
  if (byteLength <= thresholdBytes) return json;
  // Synchronous on purpose: the threshold keeps this to values of a few KiB to a few MiB
  // (≈ 0.1–10 ms); the async zlib API would add a thread-pool hop to every large write.
  const body = deflateRawSync(json, { level: LEVEL });
  const out = Buffer.allocUnsafe(body.length + 2);
  out[0] = MARKER;
  out[1] = ALGO_DEFLATE_RAW;
  body.copy(out, 2);
  return out;
}

/** The JSON text stored in `buf`. Throws on an unknown marker (a writer newer than this reader). */
export function decode(buf: Buffer): string {
  if (buf.length === 0 || buf[0] !== MARKER) return buf.toString('utf8');
  if (buf[1] !== ALGO_DEFLATE_RAW) throw new Error(`cache value compressed with unknown algorithm 0x${(buf[1] ?? 0).toString(16)}`);
  return inflateRawSync(buf.subarray(2)).toString('utf8');
}

/** Whether a raw Redis value is in the compressed form. */
export function isCompressed(buf: Buffer): boolean {
  return buf.length >= 2 && buf[0] === MARKER;
}
