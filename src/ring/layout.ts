// Byte layouts of every shared-memory structure: SPSC queues and per-symbol stores.
//
// Everything here is described once; readers and writers import the constants.
// All multi-byte fields are little-endian host order (typed arrays), 8-byte aligned,
// so a Float64Array view can index any field without DataView.

// ─── SPSC byte queue ────────────────────────────────────────────────────────────
//
//   byte 0        64          128         192                         192+capacity
//   ┌───────────┬───────────┬───────────┬──────────────────────────────┐
//   │ HEAD      │ TAIL      │ WAITING   │ data: [u32 len|u32 aux|payload…] … │
//   └───────────┴───────────┴───────────┴──────────────────────────────┘
//   Each counter sits on its own 64-byte cache line: producer and consumer write
//   different lines, so neither invalidates the other's cache on every record.
//
// HEAD and TAIL are free-running u32 byte positions (wrapping at 2^32); the slot of a
// position is `pos & (capacity - 1)`, which is why capacity must be a power of two.
// A record never wraps around the end: if it does not fit, the producer writes a PAD
// header (len = PAD_MARKER) and continues at the start.
//
// A queue whose producer has a doorbell (below) wakes the consumer through the doorbell
// instead: WAITING and HEAD's futex are then unused.

export const SPSC_HEAD = 0; // Int32 index of HEAD (byte 0)
export const SPSC_TAIL = 16; // Int32 index of TAIL (byte 64)
export const SPSC_WAITING = 32; // Int32 index of WAITING (byte 128): 1 while the consumer sleeps
export const SPSC_DATA_OFFSET = 192; // first data byte
export const SPSC_RECORD_HEADER = 8; // u32 payload length + u32 aux word
export const PAD_MARKER = 0xffffffff;

// ─── Doorbell: one consumer, several SPSC queues (a shard's inputs) ─────────────
//
//   byte 0        64          128
//   ┌───────────┬───────────┐
//   │ RING      │ WAITING   │
//   └───────────┴───────────┘
//   RING: i32 bumped by a producer that finds WAITING set, then notified (futex word).
//   WAITING: 1 while the consumer sleeps (or is about to): producers ring only then.
// The consumer announces WAITING, reads RING, re-checks every queue's HEAD, then waits on
// RING's value. A producer stores HEAD, then reads WAITING. With sequentially consistent
// Atomics one of the two always sees the other: no commit is left unnoticed while the
// consumer sleeps, and an idle consumer costs nothing (no polling).
export const DOORBELL_RING = 0; // Int32 index (byte 0)
export const DOORBELL_WAITING = 16; // Int32 index (byte 64)
export const DOORBELL_BYTES = 128;

// ─── Input records (feed → shard), payload of an SPSC record ───────────────────
//
// f64 index:  0: u32 symbolId | u32 kind       (kind: KIND_* below)
//             1: feedTs   (ms since epoch, sub-ms precision: when the feed handed it over)
//             2: exchangeTs (ms since epoch from the source, 0 when unknown)
//             3: u32 bidCount | u32 askCount
//             4…: bid (price, size) pairs, then ask (price, size) pairs
// KIND_RESYNCING carries no levels: bidCount holds the reason's length in bytes, askCount 0,
// and the reason (ASCII, [A-Za-z0-9_-], at most MAX_REASON_BYTES) starts at f64 index 4.
// Every record of one symbol travels through one input queue: the shard's replay check
// (H_LAST_INPUT_POS) compares positions within that queue only.
export const IN_SYMBOL = 0; // u32 index 0
export const IN_KIND = 1; // u32 index 1
export const IN_FEED_TS = 1; // f64 index
export const IN_EXCHANGE_TS = 2; // f64 index
export const IN_BID_COUNT = 6; // u32 index (f64 slot 3, low word)
export const IN_ASK_COUNT = 7; // u32 index (f64 slot 3, high word)
export const IN_LEVELS = 4; // f64 index of the first bid price
export const inputRecordBytes = (bids: number, asks: number): number => (IN_LEVELS + 2 * (bids + asks)) * 8;
/** Input kinds 0 and 1 are feeds/types.ts KIND_SNAPSHOT and KIND_DELTA. */
export const KIND_RESYNCING = 2; // the symbol's book is not the exchange's any more: status, no seq
export const KIND_SNAPSHOT_RESET = 3; // a snapshot, the first book after a (re)sync: its frame says "reset":true
/** Longest resyncing reason carried (bytes); the same bound as a frame's reason (protocol/encode.ts). */
export const MAX_REASON_BYTES = 64;
export const resyncingRecordBytes = (reasonBytes: number): number => IN_LEVELS * 8 + ((reasonBytes + 7) & ~7);

// KIND_TRADE: one trade of the exchange (or the simulator). f64 0-2 as above; then
//             3: u32 side (TRADE_BUY | TRADE_SELL) | u32 trade id length in bytes
//             4: price   5: size   6…: the exchange's trade id, ASCII [A-Za-z0-9._:-], at most
//             TRADE_ID_MAX_BYTES (the feed refuses other ids as malformed).
export const KIND_TRADE = 4;
export const IN_TRADE_SIDE = 6; // u32 index (f64 slot 3, low word)
export const IN_TRADE_ID_LENGTH = 7; // u32 index (f64 slot 3, high word)
export const IN_TRADE_PRICE = 4; // f64 index
export const IN_TRADE_SIZE = 5; // f64 index
export const IN_TRADE_ID = 6 * 8; // byte offset of the id within the payload
export const TRADE_BUY = 1; // the taker bought (lifted the ask)
export const TRADE_SELL = 2; // the taker sold (hit the bid)
/** Longest exchange trade id carried (Binance, Coinbase and Kraken ids are integers of ≤ 20 digits). */
export const TRADE_ID_MAX_BYTES = 40;
export const tradeRecordInputBytes = (idBytes: number): number => IN_TRADE_ID + ((idBytes + 7) & ~7);

// ─── Frame records (shard → front), payload of an SPSC record ──────────────────
//
// aux word of the record header: symbolId.
// f64 index:  0: seq     1: epoch     2: feedTs     3: u32 frame kind | u32 jsonLength
//             then jsonLength bytes of the encoded frame, ready to publish.
// seq 0 marks a frame that is not part of the sequence (sequences start at 1): a status
// (FRAME_STATUS, e.g. `resyncing`), published as it is and remembered for new subscribers;
// it moves neither the front's published seq nor its epoch. feedTs is then the status's `since`.
export const FR_SEQ = 0;
export const FR_EPOCH = 1;
export const FR_FEED_TS = 2;
export const FR_KIND = 6; // u32 index
export const FR_JSON_LENGTH = 7; // u32 index
export const FR_JSON_OFFSET = 32; // byte offset of the JSON within the payload
export const FRAME_UPDATE = 0;
export const FRAME_STATUS = 1;
export const FRAME_TRADE = 2; // a `trade` frame of the symbol's trades channel: FR_SEQ/FR_EPOCH are the trade sequence's
/** FR_SEQ of a frame outside the sequence. */
export const SEQ_NONE = 0;

// ─── Per-symbol store: one SharedArrayBuffer per symbol, owned by the supervisor ──
//
//   ┌──────────────── header (HEADER_BYTES) ────────────────┐
//   │ i32 version (seqlock) | … f64 fields below …           │
//   ├──────────────── raw ring: rawCapacity × rawRecordBytes ─┤  slot = seq & (rawCapacity-1)
//   ├──────────────── history ring: historyCapacity × HISTORY_POINT_BYTES ┤
//   └─────────────────────────────────────────────────────────┘  slot = bucket & (historyCapacity-1)
//
// The shard is the only writer. Readers (front actor, snapshot pool) never lock: every
// header/slot starts with a seqlock version, odd while being written; a reader copies the
// fields and accepts them only if the version was even and unchanged, and (for slots) the
// stored seq/bucket is the one it asked for.

export const HEADER_BYTES = 192;
// Header f64 indices (index 0 holds the i32 seqlock version in its low word).
export const H_VERSION = 0; // Int32 index
export const H_EPOCH = 1; // epoch of the current sequence (0: no sequence yet)
export const H_LAST_SEQ = 2; // last seq fully processed (0: none)
export const H_LAST_FEED_TS = 3; // feedTs of the last accepted update
export const H_LAST_INPUT_POS = 4; // input-queue position of the record that produced H_LAST_SEQ
export const H_LAST_BUCKET = 5; // history bucket number last written (-1: none)
export const H_ACCEPTED = 6; // updates accepted in this store's lifetime
export const H_REJECTED = 7; // updates rejected (crossed, locked, malformed)
// While an exchange feed rebuilds the book: since when (feed time; 0: not resyncing) and why, so a
// restarted shard keeps owing the `reset` and a restarted front still tells new subscribers.
export const H_RESYNCING_SINCE = 8;
export const H_RESYNC_REASON_LENGTH = 9;
export const H_RESYNC_REASON = 10; // MAX_REASON_BYTES of ASCII from here (f64 10-17)

// Metrics, in the order they appear in raw records and history points.
export const M_BEST_BID = 0;
export const M_BEST_ASK = 1;
export const M_MID = 2;
export const M_SPREAD = 3;
export const M_SPREAD_PCT = 4;
export const M_BID_VOLUME = 5;
export const M_ASK_VOLUME = 6;
export const M_TOTAL_VOLUME = 7;
export const M_IMBALANCE = 8;
export const M_MICROPRICE = 9;
export const METRIC_COUNT = 10;
/** JSON names of the metrics: the same as their columns in order_book_data. */
export const METRIC_NAMES = [
  'best_bid', 'best_ask', 'mid_price', 'spread', 'spread_percentage',
  'bid_volume', 'ask_volume', 'total_volume', 'imbalance', 'microprice',
] as const;

// Raw record (f64 indices relative to the slot start); written only by SymbolStore.writeRaw,
// except R_FLAGS: the shard opens the slot's seqlock window (beginWrite is idempotent), sets
// R_FLAGS, and writeRaw closes the same window, so no reader sees a record with stale flags.
export const R_VERSION = 0; // Int32 index relative to slot start / 4
export const R_SEQ = 1;
export const R_EPOCH = 2;
export const R_FEED_TS = 3;
export const R_EXCHANGE_TS = 4;
export const R_METRICS = 5; // METRIC_COUNT values
export const R_BID_COUNT = R_METRICS + METRIC_COUNT; // 15
export const R_ASK_COUNT = R_BID_COUNT + 1; // 16
export const R_FLAGS = R_ASK_COUNT + 1; // 17: RAW_* bits, written with the record (same seqlock window)
export const R_LEVELS = R_FLAGS + 1; // 18: depth bid pairs, then depth ask pairs
/** R_FLAGS bit: the first book after a (re)sync; every encoding of this seq says "reset":true. */
export const RAW_RESET = 1;
export const rawRecordFields = (depth: number): number => R_LEVELS + 4 * depth;
export const rawRecordBytes = (depth: number): number => rawRecordFields(depth) * 8;

// History point (f64 indices relative to the point start).
export const P_VERSION = 0; // Int32 index relative to point start / 4
export const P_BUCKET = 1; // bucket number = floor(time / resolutionMs)
export const P_SEQ = 2; // last seq folded into this point
export const P_EPOCH = 3;
export const P_COUNT = 4; // updates folded into this point
export const P_METRICS = 5; // METRIC_COUNT values: the book's metrics at the end of the bucket
export const HISTORY_POINT_FIELDS = P_METRICS + METRIC_COUNT + 1; // 16 → 128 bytes
export const HISTORY_POINT_BYTES = HISTORY_POINT_FIELDS * 8;

export interface StoreGeometry {
  depth: number; // book levels kept per side
  rawCapacity: number; // power of two
  historyCapacity: number; // power of two
}

export const storeBytes = (g: StoreGeometry): number =>
  HEADER_BYTES + g.rawCapacity * rawRecordBytes(g.depth) + g.historyCapacity * HISTORY_POINT_BYTES;

// ─── Per-symbol trade store: one more SharedArrayBuffer per symbol ──────────────
//
//   ┌──── header (TRADE_HEADER_BYTES) ────┐┌──── trade ring: capacity × TRADE_RECORD_BYTES ────┐
//   │ i32 version | epoch | lastSeq | …   ││ slot = seq & (capacity-1)                          │
//   └──────────────────────────────────────┘└────────────────────────────────────────────────────┘
// The trades channel of a symbol has its own sequence and epoch (a trade is an event, not a new
// state of the book: the two sequences advance independently). Same seqlock rules as above.
export const TRADE_HEADER_BYTES = 64;
export const TH_VERSION = 0; // Int32 index
export const TH_EPOCH = 1; // f64 index: epoch of the trade sequence (0: no trade yet)
export const TH_LAST_SEQ = 2; // last trade seq committed
export const TH_LAST_INPUT_POS = 3; // input-queue position of the record that produced TH_LAST_SEQ
export const TH_LAST_FEED_TS = 4;
export const TH_ACCEPTED = 5; // trades accepted in this store's lifetime
// Trade record (f64 indices relative to the slot start). The writer's trade rows are these
// records as they are, so a row needs no other encoding on the way.
export const T_VERSION = 0; // Int32 index relative to slot start / 4
export const T_SEQ = 1;
export const T_EPOCH = 2;
export const T_FEED_TS = 3;
export const T_EXCHANGE_TS = 4; // ms since epoch from the exchange (0: unknown, T_FEED_TS stands in)
export const T_PRICE = 5;
export const T_SIZE = 6;
export const T_SIDE = 7; // TRADE_BUY | TRADE_SELL
export const T_ID_LENGTH = 8;
export const T_ID = 9; // TRADE_ID_MAX_BYTES of ASCII from here (byte offset T_ID * 8)
export const TRADE_RECORD_FIELDS = T_ID + TRADE_ID_MAX_BYTES / 8; // 14 → 112 bytes
export const TRADE_RECORD_BYTES = TRADE_RECORD_FIELDS * 8;
export const tradeStoreBytes = (capacity: number): number => TRADE_HEADER_BYTES + capacity * TRADE_RECORD_BYTES;
/**
 * Aux word of a writer row that is a trade record (TRADE_RECORD_BYTES) rather than a raw book
 * record: symbolId | ROW_TRADE. Symbol ids stay far below 2^31 (MAX_SYMBOLS).
 */
export const ROW_TRADE = 0x80000000;

// ─── Per-symbol analytics store: candles of each interval and the 24 h ticker ─────
//
//   ┌── channel headers: ANALYTICS_CHANNELS × 64 bytes ──┐┌── candle ring of interval 0 … 6 ──┐┌── ticker slot ──┐
//   │ i32 version | epoch | lastSeq | coverage | folded… ││ capacity × CANDLE_SLOT_FIELDS f64  ││ TICKER_SLOT_…   │
//   └─────────────────────────────────────────────────────┘└─────────────────────────────────────┘└─────────────────┘
// Channel k (0-6: candles of INTERVALS[k], 7: the ticker) has its own seq and epoch. A slot holds
// the state a published frame carried (written only when published, with that frame's seq), so
// a reader that finds every slot's seq at or below the header's lastSeq has the channel's state
// at exactly lastSeq. Candle slot = bucket number & (capacity - 1). Seqlocks as above.
export const ANALYTICS_CHANNELS = 8;
export const TICKER_CHANNEL = 7;
export const AH_FIELDS = 8; // f64 per channel header
export const AH_VERSION = 0; // Int32 index relative to the header's first f64 × 2
export const AH_EPOCH = 1;
export const AH_LAST_SEQ = 2;
export const AH_COVERAGE_START = 3; // candles of buckets starting at or after this are complete in the ring
export const AH_FOLDED_EPOCH = 4; // the trade (epoch, seq) folded last when lastSeq was published:
export const AH_FOLDED_SEQ = 5; //   a successor re-folds the trades after it from the trade ring
export const AH_SEEDED_UNTIL = 6; // seeded from the stored trades up to this trade time: older trades are in the seeds already
export const CANDLE_RECORD_FIELDS = 15; // analytics/candle-builder.ts CANDLE_FIELDS
export const TICKER_RECORD_FIELDS = 13; // analytics/rolling-ticker.ts TICKER_FIELDS
export const AS_VERSION = 0; // slot: Int32 version
export const AS_SEQ = 1; // channel seq of the frame that published this state
export const AS_EPOCH = 2;
export const AS_RECORD = 3; // the candle (C_*) or ticker record from here
export const CANDLE_SLOT_FIELDS = AS_RECORD + CANDLE_RECORD_FIELDS; // 18 → 144 bytes
export const TICKER_SLOT_FIELDS = AS_RECORD + TICKER_RECORD_FIELDS; // 16
export const analyticsStoreBytes = (candleCapacity: number): number =>
  8 * (ANALYTICS_CHANNELS * AH_FIELDS + 7 * candleCapacity * CANDLE_SLOT_FIELDS + TICKER_SLOT_FIELDS);
/** FR_KIND of an analytics frame: FRAME_ANALYTICS + channel (candles of INTERVALS[k], or the ticker). */
export const FRAME_ANALYTICS = 16;

// ─── Price alerts: commands (cache actor → shard) and firings (shard → cache actor) ─
//
// One pair of SPSC queues per shard, allocated by the supervisor for the process's life (either
// end may restart). A command record (ALERT_COMMAND_BYTES):
//   f64 0: u32 op (ALERT_ADD | ALERT_REMOVE) | u32 symbolId   1: alertId   2: u32 condition   3: target
// A firing record (ALERT_FIRED_BYTES): the alert, and the trade that fired it:
//   f64 0: u32 symbolId | u32 condition   1: alertId   2: target   3: price   4: trade epoch   5: trade seq   6: trade time (ms)
export const ALERT_ADD = 1;
export const ALERT_REMOVE = 2;
export const AC_OP = 0; // u32 index
export const AC_SYMBOL = 1; // u32 index
export const AC_ID = 1; // f64 index
export const AC_CONDITION = 4; // u32 index (f64 slot 2, low word)
export const AC_TARGET = 3; // f64 index
export const ALERT_COMMAND_BYTES = 32;
export const AF_SYMBOL = 0; // u32 index
export const AF_CONDITION = 1; // u32 index
export const AF_ID = 1; // f64 index
export const AF_TARGET = 2;
export const AF_PRICE = 3;
export const AF_EPOCH = 4;
export const AF_SEQ = 5;
export const AF_TIME = 6;
export const ALERT_FIRED_BYTES = 56;

export const isPowerOfTwo = (n: number): boolean => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
