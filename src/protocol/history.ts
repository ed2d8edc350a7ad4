// Builds a historical_data frame from a symbol's shared history ring (runs in the snapshot pool).

import {
  HISTORY_POINT_FIELDS, P_BUCKET, P_COUNT, P_EPOCH, P_SEQ, type StoreGeometry,
} from '../ring/layout.js';
import { SymbolStore } from '../ring/symbol-store.js';
import { H_LAST_BUCKET } from '../ring/layout.js';
import { HISTORY_POINT_MAX_BYTES, encodeHistoryPoint } from './encode.js';
import { writeAscii, writeIsoTime, writeNumber } from './json-writer.js';

export interface HistoryTask {
  store: SharedArrayBuffer;
  geometry: StoreGeometry;
  symbol: string;
  fromMs: number; // first instant to include (start of today)
  baseResolutionMs: number; // the ring's resolution
  resolutionMs: number; // requested; rounded to a multiple of the base
}

export interface HistoryPayload {
  buffer: ArrayBuffer; // transferred to the caller
  offset: number;
  length: number;
  lastSeq: number; // seq of the newest point (0: no point)
  epoch: number;
  points: number;
}

/** Room left before the data for the envelope, written last (its seq is known only then). */
const ENVELOPE_RESERVE = 512;

export function buildHistory(t: HistoryTask): HistoryPayload {
  const store = new SymbolStore(t.store, t.geometry);
  const group = Math.max(1, Math.round(t.resolutionMs / t.baseResolutionMs));
  const resolutionMs = group * t.baseResolutionMs;
  const lastBucket = store.readHeader() ? store.header[H_LAST_BUCKET] : -1;
  const first = Math.max(Math.ceil(t.fromMs / t.baseResolutionMs), lastBucket - t.geometry.historyCapacity + 1);
  const maxPoints = lastBucket >= first ? Math.ceil((lastBucket - first + 1) / group) + 1 : 0;
  const out = new Uint8Array(ENVELOPE_RESERVE + maxPoints * (HISTORY_POINT_MAX_BYTES + 1) + 8);

  const pt = new Float64Array(HISTORY_POINT_FIELDS);
  const keep = new Float64Array(HISTORY_POINT_FIELDS);
  let pos = ENVELOPE_RESERVE;
  out[pos++] = 0x5b; // [
  let points = 0;
  let lastSeq = 0;
  let epoch = 0;
  let haveKeep = false;
  let count = 0;
  const flush = () => {
    if (!haveKeep) return;
    keep[P_BUCKET] = Math.floor(keep[P_BUCKET] / group); // bucket of the coarser resolution
    keep[P_COUNT] = count;
    if (points > 0) out[pos++] = 0x2c; // ,
    pos = encodeHistoryPoint(out, pos, keep, 0, resolutionMs);
    points++;
    lastSeq = keep[P_SEQ];
    epoch = keep[P_EPOCH];
    haveKeep = false;
    count = 0;
  };
  for (let b = first; b <= lastBucket; b++) {
    if (b % group === 0) flush();
    if (!store.readPoint(b, pt, 0)) continue; // no update in that bucket
    keep.set(pt);
    count += pt[P_COUNT];
    haveKeep = true;
  }
  flush();
  out[pos++] = 0x5d; // ]
  out[pos++] = 0x7d; // }

  const head = new Uint8Array(ENVELOPE_RESERVE);
  let h = writeAscii(head, 0, '{"type":"historical_data","symbol":"');
  h = writeAscii(head, h, t.symbol);
  h = writeAscii(head, h, '","epoch":');
  h = writeNumber(head, h, epoch);
  h = writeAscii(head, h, ',"seq":');
  h = writeNumber(head, h, lastSeq);
  h = writeAscii(head, h, ',"from":"');
  h = writeIsoTime(head, h, t.fromMs);
  h = writeAscii(head, h, '","resolution_ms":');
  h = writeNumber(head, h, resolutionMs);
  h = writeAscii(head, h, ',"points":');
  h = writeNumber(head, h, points);
  h = writeAscii(head, h, ',"data":');
  const offset = ENVELOPE_RESERVE - h;
  out.set(head.subarray(0, h), offset);
  return { buffer: out.buffer, offset, length: pos - offset, lastSeq, epoch, points };
}
