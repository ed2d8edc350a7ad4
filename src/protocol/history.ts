// historical_data payloads: points from the shared history ring or from database rows, and the envelope.
//
// Points are encoded as comma-separated JSON objects without brackets, so parts from several
// tiers (PostgreSQL for before this process started, memory since) join with one comma.

import { H_LAST_BUCKET, HISTORY_POINT_FIELDS, METRIC_NAMES, P_BUCKET, P_COUNT, P_EPOCH, P_METRICS, P_SEQ, type StoreGeometry } from '../ring/layout.js';
import { SymbolStore } from '../ring/symbol-store.js';
import type { HistoryRow } from '../store/history-query.js';
import { HISTORY_POINT_MAX_BYTES, encodeHistoryPoint } from './encode.js';

export interface MemoryHistoryTask {
  kind: 'memory';
  store: SharedArrayBuffer;
  geometry: StoreGeometry;
  fromMs: number; // first instant to include
  baseResolutionMs: number; // the ring's resolution
  resolutionMs: number; // a multiple of the base (see effectiveResolution)
}

/** Encoded points, transferred from the snapshot pool. */
export interface PointsPayload {
  buffer: ArrayBuffer;
  offset: number;
  length: number;
  points: number;
  lastSeq: number; // seq of the newest point (0: no point)
  epoch: number; // its epoch
}

/** The resolution actually served: the request rounded to a multiple of the ring's resolution. */
export function effectiveResolution(requestedMs: number, baseMs: number): number {
  return Math.max(1, Math.round(requestedMs / baseMs)) * baseMs;
}

/** Points from the shared history ring, from `fromMs` to the newest bucket. */
export function memoryPoints(t: MemoryHistoryTask): PointsPayload {
  const store = new SymbolStore(t.store, t.geometry);
  const group = Math.round(t.resolutionMs / t.baseResolutionMs);
  const lastBucket = store.readHeader() ? store.header[H_LAST_BUCKET] : -1;
  const first = Math.max(Math.ceil(t.fromMs / t.baseResolutionMs), lastBucket - t.geometry.historyCapacity + 1);
  const maxPoints = lastBucket >= first ? Math.ceil((lastBucket - first + 1) / group) + 1 : 0;
  const out = new Uint8Array(maxPoints * (HISTORY_POINT_MAX_BYTES + 1) + 8);

  const pt = new Float64Array(HISTORY_POINT_FIELDS);
  const keep = new Float64Array(HISTORY_POINT_FIELDS);
  let pos = 0;
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
    pos = encodeHistoryPoint(out, pos, keep, 0, t.resolutionMs);
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
  return { buffer: out.buffer, offset: 0, length: pos, points, lastSeq, epoch };
}

/** Points from database rows (one per bucket), in the same JSON shape as memoryPoints. */
export function rowPoints(rows: HistoryRow[], resolutionMs: number): PointsPayload {
  const out = new Uint8Array(rows.length * (HISTORY_POINT_MAX_BYTES + 1) + 8);
  const pt = new Float64Array(HISTORY_POINT_FIELDS);
  let pos = 0;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    pt[P_BUCKET] = Math.round(r.bucketMs / resolutionMs);
    pt[P_SEQ] = r.seq;
    pt[P_EPOCH] = r.epoch;
    pt[P_COUNT] = r.count;
    for (let m = 0; m < METRIC_NAMES.length; m++) pt[P_METRICS + m] = r[METRIC_NAMES[m]] ?? NaN;
    if (i > 0) out[pos++] = 0x2c;
    pos = encodeHistoryPoint(out, pos, pt, 0, resolutionMs);
  }
  const last = rows[rows.length - 1];
  return { buffer: out.buffer, offset: 0, length: pos, points: rows.length, lastSeq: last?.seq ?? 0, epoch: last?.epoch ?? 0 };
}

export interface HistoryMeta {
  symbol: string;
  epoch: number;
  seq: number;
  fromMs: number;
  resolutionMs: number;
  points: number;
  sources: { memory: number; database: number };
  /** Set when a tier failed: what is missing and why (the points present are still exact). */
  incomplete?: string;
}

/** `{"type":"historical_data",…,"data":[` — the points and `]}` follow. */
export function envelopePrefix(m: HistoryMeta): string {
  return `{"type":"historical_data","symbol":${JSON.stringify(m.symbol)},"epoch":${m.epoch},"seq":${m.seq},`
    + `"from":"${new Date(m.fromMs).toISOString()}","resolution_ms":${m.resolutionMs},"points":${m.points},`
    + `"sources":{"memory":${m.sources.memory},"database":${m.sources.database}},`
    + (m.incomplete ? `"incomplete":${JSON.stringify(m.incomplete)},` : '') + '"data":[';
}
