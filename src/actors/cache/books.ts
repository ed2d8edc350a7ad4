// The runtime's latest book of each symbol, read from the shared stores: the source of the market_data and price namespaces.

import type { Config } from '../../config.js';
import { TYPE_SNAPSHOT, encodeRecord, maxRecordFrameBytes, symbolJsonBytes } from '../../protocol/encode.js';
import { H_EPOCH, H_LAST_SEQ } from '../../ring/layout.js';
import { SymbolStore } from '../../ring/symbol-store.js';
import type { SymbolRegistration } from '../registry.js';

export interface LatestBook {
  symbol: string;
  epoch: number;
  seq: number;
  timestamp: string;
  data: Record<string, number | null | number[][]>;
}

interface Entry {
  store: SymbolStore;
  symbolJson: Uint8Array;
  rec: Float64Array;
  out: Uint8Array;
}

export class Books {
  private readonly byName = new Map<string, Entry>();

  constructor(private readonly cfg: Config) {}

  add(r: SymbolRegistration): void {
    if (this.byName.has(r.name)) return;
    const store = new SymbolStore(r.store, { depth: this.cfg.depth, rawCapacity: this.cfg.rawCapacity, historyCapacity: this.cfg.historyCapacity });
    const symbolJson = symbolJsonBytes(r.name);
    this.byName.set(r.name, {
      store, symbolJson, rec: new Float64Array(store.rawFields), out: new Uint8Array(maxRecordFrameBytes(this.cfg.depth, symbolJson.length)),
    });
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  /**
   * The last update the symbol's shard committed, as the fields of an orderbook_snapshot;
   * undefined for an unknown symbol, one without a valid book yet, or a slot being rewritten.
   * Encoded by the same function as the frames clients get, so the two never disagree.
   */
  latest(name: string): LatestBook | undefined {
    const e = this.byName.get(name);
    if (!e || !e.store.readHeader()) return undefined;
    const seq = e.store.header[H_LAST_SEQ];
    const epoch = e.store.header[H_EPOCH];
    if (seq <= 0 || !e.store.readRaw(seq, epoch, e.rec, 0)) return undefined;
    const len = encodeRecord(e.out, 0, TYPE_SNAPSHOT, e.symbolJson, e.rec, 0, this.cfg.depth);
    const { type: _type, ...frame } = JSON.parse(Buffer.from(e.out.buffer, 0, len).toString('utf8')) as LatestBook & { type: string };
    return frame;
  }
}
