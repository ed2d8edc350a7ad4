// The ten per-update metrics of a book, written into a Float64Array at layout.ts M_* offsets.
//
// Definitions (bb/ba: best bid/ask price, bs1/as1: their sizes; volumes over the kept levels):
//   best_bid = bb                 best_ask = ba
//   mid_price = (bb + ba) / 2     spread = ba - bb     spread_percentage = spread / mid * 100
//   bid_volume = Σ bid sizes      ask_volume = Σ ask sizes     total_volume = bid_volume + ask_volume
//   imbalance = (bid_volume - ask_volume) / (bid_volume + ask_volume)   depth imbalance, in [-1, 1]
//   microprice = (bb * as1 + ba * bs1) / (bs1 + as1)   top-of-book size-weighted: leans toward the
//                side with less size, where the next trade is more likely to move the price
// A metric that needs a missing side is NaN (the encoder writes null); the volumes of an empty
// side are 0, a sum over no levels, so one-sided books still report how much is resting.

import type { Book } from './book.js';
import {
  M_ASK_VOLUME, M_BEST_ASK, M_BEST_BID, M_BID_VOLUME, M_IMBALANCE, M_MICROPRICE, M_MID, M_SPREAD,
  M_SPREAD_PCT, M_TOTAL_VOLUME,
} from '../ring/layout.js';

export function computeMetrics(book: Book, out: Float64Array, base: number): void {
  let bidVol = 0;
  let askVol = 0;
  for (let i = 0; i < book.bidCount; i++) bidVol += book.bidSz[i];
  for (let i = 0; i < book.askCount; i++) askVol += book.askSz[i];
  const hasBid = book.bidCount > 0;
  const hasAsk = book.askCount > 0;
  const bb = hasBid ? book.bidPx[0] : NaN;
  const ba = hasAsk ? book.askPx[0] : NaN;
  const both = hasBid && hasAsk;
  const mid = both ? (bb + ba) / 2 : NaN;
  const spread = both ? ba - bb : NaN;
  const bs1 = hasBid ? book.bidSz[0] : NaN;
  const as1 = hasAsk ? book.askSz[0] : NaN;

  out[base + M_BEST_BID] = bb;
  out[base + M_BEST_ASK] = ba;
  out[base + M_MID] = mid;
  out[base + M_SPREAD] = spread;
  out[base + M_SPREAD_PCT] = both && mid !== 0 ? (spread / mid) * 100 : NaN;
  out[base + M_BID_VOLUME] = bidVol;
  out[base + M_ASK_VOLUME] = askVol;
  out[base + M_TOTAL_VOLUME] = bidVol + askVol;
  out[base + M_IMBALANCE] = both && bidVol + askVol > 0 ? (bidVol - askVol) / (bidVol + askVol) : NaN;
  out[base + M_MICROPRICE] = both && bs1 + as1 > 0 ? (bb * as1 + ba * bs1) / (bs1 + as1) : NaN;
}
