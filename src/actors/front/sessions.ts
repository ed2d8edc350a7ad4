// Client sessions: the WebSocket protocol's state machine (subscribe, history seam, resume, conflation).
//
// A subscription moves Pending → Seam → Detached → Live:
//   Pending   its historical_data is being built in the snapshot pool;
//   Seam      history built up to seq H; waits until the front has published H, so that
//             history, the snapshot at H and the live stream meet exactly;
//   Detached  knows the last seq the client has (epoch, deliveredSeq); catches up from the
//             raw ring, or resyncs, when the connection has room;
//   Live      on the symbol's uWS topic: gets every published frame.
// The invariant: a subscription is put on its topic only when the connection's backlog is
// small, and taken off (Detached) as soon as it grows past WS_CONFLATE_BYTES. uWS `publish`
// silently skips a socket over maxBackpressure; keeping live sockets far below it (and
// counting any that get near) is how no client ever has an unexplained gap.

import type { Config } from '../../config.js';
import {
  CHANNELS, type Channel, type ClientMessage, type ErrorCode, type ResumePoint, errorFrame, parseClientMessage, pongFrame, statusFrame, unsubscribedFrame,
} from '../../protocol/client-message.js';
import { TYPE_RESYNC, TYPE_SNAPSHOT, TYPE_UPDATE, reasonBytes } from '../../protocol/encode.js';
import { CLOSE_MESSAGE_TOO_BIG, CLOSE_RATE_LIMITED, type MessageLimits, messageLimits } from '../../protocol/close-codes.js';
import { MessageRate, type RateState, RateVerdict } from './message-rate.js';
import type { FrontSymbol, Stream } from './symbols.js';
import type { FrontTrades } from './trades.js';
import type { FrontCandles, FrontTicker } from './analytics-streams.js';
import { INTERVALS, type Interval } from '../../analytics/intervals.js';
import { SEND_DROPPED, type Socket } from './uws.js';
import type { AccessState, WsAccess } from './ws-access.js';

export interface HistoryResult {
  bytes: Uint8Array; // the complete historical_data frame
  lastSeq: number; // last seq the history covers (0: no point)
  epoch: number;
  points: number;
}

export interface FrontCounters {
  messagesSent: number;
  bytesSent: number;
  resyncs: Map<string, number>;
  conflations: number;
  backpressureLimitHits: number;
  errorsSent: Map<string, number>;
}

export interface SessionDeps {
  cfg: Config;
  symbolByName(name: string): FrontSymbol | undefined;
  buildHistory(sym: FrontSymbol, resolutionMs: number): Promise<HistoryResult>;
  counters: FrontCounters;
  access: WsAccess;
}

/**
 * History builds one connection may have in the snapshot pool at once; its further subscribes
 * wait their turn, so subscribe/unsubscribe churn costs the pool at most this much per connection.
 */
export const HISTORY_IN_FLIGHT_MAX = 4;
/** Messages that may wait while the connection's credential is verified. */
const HELD_MAX = 32;

const PENDING = 0;
const SEAM = 1;
const DETACHED = 2;
const LIVE = 3;

interface Subscription {
  readonly ws: Socket<Session>;
  /** A symbol's book (history, snapshot, updates, statuses) or its trades (recent trades, then each trade). */
  readonly stream: Stream;
  state: number;
  epoch: number; // of deliveredSeq
  deliveredSeq: number; // last seq the client has (Detached); -1: must resync
  /** Updates the client may be caught up with from the raw ring before a resync is cheaper. */
  maxReplay: number;
  resyncReason: string;
  history?: HistoryResult;
  /** The symbol had no valid book when the client subscribed: its first snapshot is still owed. */
  awaitingFirst: boolean;
  /** Book: taken off the topic (conflated) while the symbol was stale or resyncing: it may have missed the `live` that ended it. */
  detachedInStatus: boolean;
  /** Pending: the history resolution asked for. */
  resolutionMs: number;
}

export interface Session extends AccessState {
  readonly id: string;
  /** By stream key (a symbol's book: 2·id, its trades: 2·id + 1). */
  readonly subs: Map<number, Subscription>;
  readonly rate: RateState;
  /** History builds of this connection in the snapshot pool, and subscriptions waiting for one. */
  historyInFlight: number;
  readonly historyQueue: Set<Subscription>;
  /** Messages that arrived while a credential was being verified. */
  readonly held: string[];
}


export class Sessions {
  readonly sockets = new Set<Socket<Session>>();
  /** Subscriptions that can progress when their connection has room (not Live, not Pending). */
  private readonly waiting = new Set<Subscription>();
  /** Book subscriptions waiting for the front to publish a seq (their history's last, or the first), by stream key. */
  private readonly seams = new Map<number, Set<Subscription>>();
  private readonly scratch: Uint8Array;
  private nextClientId = 1;
  private readonly roomBytes: number;
  /** Counted at each change, so reading them never walks the connections. */
  private subscriptions = 0;
  private pendingSubscriptions = 0; // Pending or Seam: history not yet sent
  readonly limits: MessageLimits;
  private readonly rate: MessageRate;
  /** Client messages refused by the rate limit. */
  throttled = 0;

  /**
   * `maxFrameBytes`: the largest frame a topic publishes (a book update): the margin below uWS's
   * ceiling the sweep keeps. `maxDirectBytes`: the largest frame sent to one connection (a trades
   * or candles snapshot), the scratch's size.
   */
  constructor(private readonly d: SessionDeps, private readonly maxFrameBytes: number, maxDirectBytes = maxFrameBytes) {
    this.scratch = new Uint8Array(Math.max(maxFrameBytes, maxDirectBytes));
    this.roomBytes = d.cfg.wsConflateBytes >>> 1;
    this.limits = messageLimits(d.cfg.wsMaxMessageBytes);
    this.rate = new MessageRate(d.cfg.wsMessageRate, d.cfg.wsMessageBurst);
  }

  /** The session of an accepted upgrade, around the access state WsAccess made for it. */
  createSession(id: string, access: AccessState): Session {
    return Object.assign(access, {
      id: id || `c${this.nextClientId++}`, subs: new Map(), rate: this.rate.initial(Date.now()),
      historyInFlight: 0, historyQueue: new Set<Subscription>(), held: [],
    });
  }

  open(ws: Socket<Session>): void {
    this.sockets.add(ws);
    this.d.access.opened(ws.getUserData(), ws);
  }

  close(ws: Socket<Session>): void {
    const s = ws.getUserData();
    s.closed = true;
    for (const sub of s.subs.values()) this.forget(sub);
    s.subs.clear();
    s.historyQueue.clear();
    s.held.length = 0;
    this.sockets.delete(ws);
    this.d.access.release(s);
  }

  subscriptionCount(): { live: number; pending: number } {
    return { live: this.subscriptions - this.pendingSubscriptions, pending: this.pendingSubscriptions };
  }

  // ── client messages ──────────────────────────────────────────────────────────

  message(ws: Socket<Session>, text: string, bytes: number): void {
    const session = ws.getUserData();
    if (session.closed) return;
    const verdict = this.rate.take(session.rate, Date.now());
    if (verdict !== RateVerdict.Allowed) {
      this.throttled++;
      if (verdict === RateVerdict.RefusedFirst) {
        this.error(ws, 'rate_limited', `over ${this.d.cfg.wsMessageRate} messages/s (WS_MESSAGE_RATE, burst WS_MESSAGE_BURST ${this.d.cfg.wsMessageBurst}): messages are dropped until the rate falls; flooding closes the connection`);
      } else if (verdict === RateVerdict.Flooding) {
        this.d.access.counters.wsClosed.set('flooding', (this.d.access.counters.wsClosed.get('flooding') ?? 0) + 1);
        session.closed = true; // nothing more from it is read
        ws.end(CLOSE_RATE_LIMITED, 'message rate limit exceeded');
      }
      return;
    }
    if (bytes > this.limits.errorBytes) {
      this.error(ws, 'payload_too_large', `message of ${bytes} bytes exceeds WS_MAX_MESSAGE_BYTES (${this.limits.errorBytes})`);
      if (bytes > this.limits.closeBytes) ws.end(CLOSE_MESSAGE_TOO_BIG, 'message too big');
      return;
    }
    if (session.verifying) {
      // Order is kept: what the client sent after its auth runs once the auth is decided.
      if (session.held.length < HELD_MAX) session.held.push(text);
      else this.error(ws, 'rate_limited', `at most ${HELD_MAX} messages may wait while a credential is verified`);
      return;
    }
    this.handle(ws, text);
  }

  private handle(ws: Socket<Session>, text: string): void {
    const parsed = parseClientMessage(text);
    if (!parsed.ok) {
      this.error(ws, parsed.code, parsed.message);
      return;
    }
    this.dispatch(ws, parsed.msg);
  }

  /** After an auth is decided: the messages that waited for it, in order. */
  private release(ws: Socket<Session>): void {
    const session = ws.getUserData();
    while (session.held.length > 0 && !session.closed && !session.verifying) this.handle(ws, session.held.shift()!);
  }

  private dispatch(ws: Socket<Session>, msg: ClientMessage): void {
    const session = ws.getUserData();
    switch (msg.action) {
      case 'ping':
        this.sendText(ws, pongFrame(msg.id));
        return;
      case 'auth':
        this.d.access.authenticate(session, ws, msg.token, () => this.release(ws));
        return;
    }
    // Anything else needs an identity under AUTH=all (the connection is closed otherwise).
    if (!this.d.access.requireIdentity(session, ws)) {
      session.closed = true;
      return;
    }
    switch (msg.action) {
      case 'unsubscribe': {
        const sym = this.d.symbolByName(msg.symbol);
        const subs: Subscription[] = [];
        for (const c of msg.channels ?? CHANNELS) {
          const sub = sym && session.subs.get(streamOf(sym, c).key);
          if (sub) subs.push(sub);
        }
        if (subs.length === 0) {
          const which = msg.channels ? ` (${msg.channels.join(', ')})` : '';
          this.error(ws, 'not_subscribed', `not subscribed to ${msg.symbol}${which}`, msg.symbol);
          return;
        }
        for (const sub of subs) this.drop(sub);
        this.sendText(ws, unsubscribedFrame(msg.symbol, msg.channels));
        return;
      }
      case 'subscribe':
        this.subscribe(ws, msg);
        return;
    }
  }

  private subscribe(ws: Socket<Session>, msg: Extract<ClientMessage, { action: 'subscribe' }>): void {
    const session = ws.getUserData();
    const refusal = this.d.access.mayRead(session, msg.symbol);
    if (refusal !== undefined) {
      this.error(ws, refusal.code, refusal.message, msg.symbol);
      return;
    }
    const sym = this.d.symbolByName(msg.symbol);
    if (!sym) {
      this.error(ws, 'unknown_symbol', `unknown symbol ${msg.symbol}: GET /symbols lists the symbols served`, msg.symbol);
      return;
    }
    const fresh = msg.channels.filter((c) => !session.subs.has(streamOf(sym, c).key)).length;
    if (session.subs.size + fresh > this.d.cfg.wsMaxSubscriptions) {
      this.error(ws, 'too_many_subscriptions', `at most ${this.d.cfg.wsMaxSubscriptions} subscriptions per connection, one per symbol and channel (WS_MAX_SUBSCRIPTIONS)`, msg.symbol);
      return;
    }
    for (const c of msg.channels) {
      if (c === 'book') this.subscribeBook(ws, sym, msg);
      else if (c === 'trades') this.subscribeTrades(ws, sym, msg);
      else this.subscribeState(ws, streamOf(sym, c) as FrontCandles | FrontTicker, msg.resume?.[c]);
    }
  }

  /** A new subscription to `stream`, replacing the connection's current one (a repeated subscribe starts over, as after a reload). */
  private add(ws: Socket<Session>, stream: Stream, maxReplay: number): Subscription {
    const session = ws.getUserData();
    const existing = session.subs.get(stream.key);
    if (existing) this.drop(existing);
    const sub: Subscription = {
      ws, stream, state: DETACHED, epoch: 0, deliveredSeq: 0, maxReplay, resyncReason: 'resume_unavailable',
      awaitingFirst: false, detachedInStatus: false, resolutionMs: 0,
    };
    session.subs.set(stream.key, sub);
    this.subscriptions++;
    return sub;
  }

  private subscribeBook(ws: Socket<Session>, sym: FrontSymbol, msg: Extract<ClientMessage, { action: 'subscribe' }>): void {
    const session = ws.getUserData();
    const sub = this.add(ws, sym, this.d.cfg.rawCapacity);
    const resume = msg.resume?.book;
    if (resume) {
      sub.epoch = resume.epoch;
      sub.deliveredSeq = resume.seq;
      this.progress(sub);
      return;
    }
    const resolutionMs = msg.resolutionMs ?? this.d.cfg.historyResolutionMs;
    if (resolutionMs === 0) {
      // No history: the latest state, then the live stream from the next seq.
      this.sendSnapshotAt(sub, sym.lastSeq, sym.epoch);
      this.progress(sub);
      return;
    }
    sub.state = PENDING;
    sub.resolutionMs = resolutionMs;
    this.pendingSubscriptions++;
    if (session.historyInFlight < HISTORY_IN_FLIGHT_MAX) this.buildHistory(sub);
    else session.historyQueue.add(sub);
  }

  /**
   * Trades: a `trades_snapshot` of the recent trades (TRADES_ON_SUBSCRIBE) at the published trade
   * seq, then every trade from the next seq; a resume replays the missed trades from the ring.
   */
  private subscribeTrades(ws: Socket<Session>, sym: FrontSymbol, msg: Extract<ClientMessage, { action: 'subscribe' }>): void {
    const trades = sym.trades;
    const sub = this.add(ws, trades, this.d.cfg.tradeCapacity);
    const resume = msg.resume?.trades;
    if (resume) {
      sub.epoch = resume.epoch;
      sub.deliveredSeq = resume.seq;
    } else {
      this.sendSnapshotAt(sub, trades.lastSeq, trades.epoch);
    }
    this.progress(sub);
  }

  /**
   * A candles or ticker channel: a snapshot consistent at the published seq (today's candles, or
   * the ticker), then every frame after it. A resume in the same epoch gets only what changed
   * after its seq (`"reason":"resume"`), or nothing when it missed nothing.
   */
  private subscribeState(ws: Socket<Session>, stream: FrontCandles | FrontTicker, resume: ResumePoint | undefined): void {
    const sub = this.add(ws, stream, 0);
    sub.resyncReason = '';
    if (resume) {
      sub.epoch = resume.epoch;
      sub.deliveredSeq = resume.seq;
      sub.resyncReason = resume.epoch === stream.epoch ? 'resume' : resume.epoch === 0 ? '' : 'epoch_changed';
    } else sub.deliveredSeq = -1;
    this.progress(sub);
  }

  private buildHistory(sub: Subscription): void {
    const { ws } = sub;
    const sym = sub.stream as FrontSymbol; // only book subscriptions have history
    const session = ws.getUserData();
    session.historyInFlight++;
    const done = () => {
      // The slot is held until the pool is done, even for a subscription dropped meanwhile:
      // that is what bounds a connection's work in the pool.
      session.historyInFlight--;
      if (session.closed) return;
      const next = session.historyQueue.values().next();
      if (!next.done) {
        session.historyQueue.delete(next.value);
        this.buildHistory(next.value);
      }
    };
    this.d.buildHistory(sym, sub.resolutionMs).then(
      (h) => {
        done();
        if (session.closed || session.subs.get(sym.key) !== sub) return; // gone or replaced meanwhile
        sub.history = h;
        sub.state = SEAM;
        this.progress(sub);
      },
      (e: unknown) => {
        done();
        if (session.closed || session.subs.get(sym.key) !== sub) return;
        this.drop(sub);
        this.error(ws, 'internal', `history for ${sym.name} failed: ${(e as Error)?.message ?? e}`, sym.name);
      },
    );
  }

  /** Removes a subscription in any state. */
  private drop(sub: Subscription): void {
    if (sub.state === LIVE) sub.ws.unsubscribe(sub.stream.topic);
    this.forget(sub);
    sub.ws.getUserData().subs.delete(sub.stream.key);
  }

  private forget(sub: Subscription): void {
    this.waiting.delete(sub);
    sub.ws.getUserData().historyQueue.delete(sub);
    this.seams.get(sub.stream.key)?.delete(sub);
    this.subscriptions--;
    if (sub.state === PENDING || sub.state === SEAM) this.pendingSubscriptions--;
  }

  // ── progress: history seam, catch-up, attach ────────────────────────────────

  /** Advances `sub` as far as its connection's room and the published sequence allow. */
  private progress(sub: Subscription): void {
    const { ws, stream } = sub;
    if (ws.getUserData().closed) return;
    if (stream.channel === 'trades') return this.progressTrades(sub);
    if (stream.channel === 'candles' || stream.channel === 'ticker') return this.progressState(sub, stream);
    const sym = stream;
    if (sub.state === SEAM) {
      const h = sub.history!;
      // History may cover updates the shard committed but the front has not published yet.
      if (h.epoch === sym.epoch && h.lastSeq > sym.lastSeq) return this.waitForSeq(sub);
      this.seams.get(sym.key)?.delete(sub);
      if (!this.hasRoom(ws)) return this.wait(sub);
      sub.history = undefined;
      this.send(ws, h.bytes);
      if (h.lastSeq > 0 && h.epoch === sym.epoch) this.sendSnapshotAt(sub, h.lastSeq, h.epoch);
      else this.sendSnapshotAt(sub, sym.lastSeq, sym.epoch);
      sub.state = DETACHED;
      this.pendingSubscriptions--;
    }
    if (sub.state !== DETACHED) return;
    if (sym.lastSeq === 0) {
      // No valid book yet (none arrived, or every one was rejected): say so once, and stay off
      // the topic until the first frame is published, so that the client's first state is a
      // snapshot and not a delta.
      if (!sub.awaitingFirst) {
        sub.awaitingFirst = true;
        this.sendText(ws, statusFrame(sym.name, 'no_data', sym.registeredAt));
      }
      this.waiting.delete(sub);
      return this.waitForSeq(sub);
    }
    if (!this.hasRoom(ws)) return this.wait(sub);
    if (sub.awaitingFirst) {
      this.seams.get(sym.key)?.delete(sub);
      sub.awaitingFirst = false;
      this.sendSnapshotAt(sub, sym.lastSeq, sym.epoch);
    }
    if (sub.epoch !== sym.epoch || sub.deliveredSeq !== sym.lastSeq) {
      if (!this.catchUp(sub)) return this.wait(sub); // out of room mid-way: continue on drain
    }
    this.waiting.delete(sub);
    // The topic carries status changes from now on; the current one (stale, resyncing), if not
    // live, is owed now: the very frame the topic carried, reason included. A client taken off
    // the topic during a status gets `live` if it ended meanwhile.
    if (sym.statusFrame) this.sendStatus(ws, sym.statusFrame);
    else if (sub.detachedInStatus) this.sendText(ws, statusFrame(sym.name, 'live', sym.statusSince));
    sub.detachedInStatus = false;
    ws.subscribe(sym.topic);
    sub.state = LIVE;
  }

  /** A candles or ticker subscription: its snapshot once it is consistent with what the topic has carried, then onto the topic. */
  private progressState(sub: Subscription, stream: FrontCandles | FrontTicker): void {
    const { ws } = sub;
    if (sub.state === LIVE) return;
    if (!this.hasRoom(ws)) return this.wait(sub);
    const attach = () => {
      this.waiting.delete(sub);
      this.seams.get(stream.key)?.delete(sub);
      ws.subscribe(stream.topic);
      sub.state = LIVE;
    };
    if (sub.resyncReason === 'resume' && sub.epoch === stream.epoch && sub.deliveredSeq === stream.lastSeq) return attach(); // missed nothing
    const since = sub.resyncReason === 'resume' && sub.epoch === stream.epoch ? sub.deliveredSeq : -1;
    const reason = sub.resyncReason === '' ? undefined : reasonBytes(sub.epoch !== stream.epoch && sub.resyncReason === 'resume' ? 'epoch_changed' : sub.resyncReason);
    const snap = stream.snapshot(this.scratch, Date.now(), reason, since);
    if (snap === undefined) return this.wait(sub); // the shard kept writing: on the next sweep
    if (snap.epoch === stream.epoch && snap.seq === stream.lastSeq) {
      if (!this.send(ws, this.scratch.subarray(0, snap.length))) return this.wait(sub);
      sub.epoch = snap.epoch;
      sub.deliveredSeq = snap.seq;
      return attach();
    }
    // The store is ahead of what the topic carried (its frames are still queued for us): when
    // the front publishes up to there, the snapshot is read again. Behind (a transient of the
    // shard's commit order): on the next sweep.
    if (snap.epoch !== stream.epoch || snap.seq > stream.lastSeq) {
      this.waiting.delete(sub);
      return this.waitForSeq(sub);
    }
    return this.wait(sub);
  }

  /** A trades subscription: catch up from the trade ring (or resync), then onto the topic. No history, no statuses. */
  private progressTrades(sub: Subscription): void {
    const { ws, stream } = sub;
    if (!this.hasRoom(ws)) return this.wait(sub);
    if ((sub.epoch !== stream.epoch || sub.deliveredSeq !== stream.lastSeq) && !this.catchUp(sub)) return this.wait(sub);
    this.waiting.delete(sub);
    ws.subscribe(stream.topic);
    sub.state = LIVE;
  }

  private wait(sub: Subscription): void {
    this.waiting.add(sub);
  }

  private waitForSeq(sub: Subscription): void {
    let set = this.seams.get(sub.stream.key);
    if (!set) this.seams.set(sub.stream.key, (set = new Set()));
    set.add(sub);
  }

  /**
   * Brings a Detached client to the published seq: replays the missed updates from the raw
   * ring while they are there and few enough, else one resync with the latest state.
   * Returns false if it stopped for lack of room (deliveredSeq says where to continue).
   */
  private catchUp(sub: Subscription): boolean {
    const { ws } = sub;
    const sym = sub.stream as FrontSymbol | FrontTrades; // the channels with a replay ring
    const missing = sym.lastSeq - sub.deliveredSeq;
    const replayable =
      sub.epoch === sym.epoch && sub.deliveredSeq >= 0 && missing > 0 && missing <= sub.maxReplay &&
      sym.encode(this.scratch, TYPE_UPDATE, sub.deliveredSeq + 1, sym.epoch) >= 0;
    if (replayable) {
      while (sub.deliveredSeq < sym.lastSeq) {
        const len = sym.encode(this.scratch, TYPE_UPDATE, sub.deliveredSeq + 1, sym.epoch);
        if (len < 0) break; // overwritten while we replayed: resync below
        if (!this.send(ws, this.scratch.subarray(0, len))) return false;
        sub.deliveredSeq++;
        if (!this.hasRoom(ws) && sub.deliveredSeq < sym.lastSeq) return false;
      }
      if (sub.deliveredSeq === sym.lastSeq) return true;
    }
    const reason = sub.epoch !== sym.epoch && sub.epoch !== 0 ? 'epoch_changed' : sub.resyncReason;
    const len = sym.encode(this.scratch, TYPE_RESYNC, sym.lastSeq, sym.epoch, reasonBytes(reason));
    if (len < 0 || !this.send(ws, this.scratch.subarray(0, len))) return false;
    this.count(this.d.counters.resyncs, reason);
    sub.epoch = sym.epoch;
    sub.deliveredSeq = sym.lastSeq;
    return true;
  }

  /** Sends the stored update `seq` as an orderbook_snapshot; records it as delivered. */
  private sendSnapshotAt(sub: Subscription, seq: number, epoch: number): void {
    sub.epoch = epoch;
    if (seq === 0 && sub.stream.channel === 'book') {
      sub.deliveredSeq = 0;
      return;
    }
    // A trades subscription always starts with a trades_snapshot, empty before the first trade.
    const len = (sub.stream as FrontSymbol | FrontTrades).encode(this.scratch, TYPE_SNAPSHOT, seq, epoch);
    if (len >= 0 && this.send(sub.ws, this.scratch.subarray(0, len))) sub.deliveredSeq = seq;
    else {
      sub.deliveredSeq = -1; // gone from the ring already: the catch-up resyncs
      sub.resyncReason = 'snapshot_unavailable';
    }
  }

  // ── backpressure ─────────────────────────────────────────────────────────────

  /** Periodic: detach clients that fell behind, progress those waiting for room. */
  sweep(): void {
    const cfg = this.d.cfg;
    const nearLimit = cfg.wsMaxBackpressure - this.maxFrameBytes;
    for (const ws of this.sockets) {
      const buffered = ws.getBufferedAmount();
      if (buffered <= cfg.wsConflateBytes) continue;
      if (buffered >= nearLimit) this.d.counters.backpressureLimitHits++;
      this.conflate(ws);
    }
    for (const sub of this.waiting) this.progress(sub);
  }

  drain(ws: Socket<Session>): void {
    if (!this.hasRoom(ws)) return;
    for (const sub of ws.getUserData().subs.values()) if (this.waiting.has(sub)) this.progress(sub);
  }

  /** Takes a slow client's live subscriptions off their topics; it resyncs once it drains. */
  private conflate(ws: Socket<Session>): void {
    for (const sub of ws.getUserData().subs.values()) {
      if (sub.state !== LIVE) continue;
      const stream = sub.stream;
      ws.unsubscribe(stream.topic);
      sub.state = DETACHED;
      sub.epoch = stream.epoch;
      // Unknown, not lastSeq: frames published this loop turn may still be queued inside uWS,
      // and a socket that unsubscribes before they are flushed does not get them. Always come
      // back through an explicit resync (re-attaching silently when nothing new was published
      // meanwhile would leave a one-seq gap on every symbol of the connection).
      sub.deliveredSeq = -1;
      sub.maxReplay = 0; // conflate: the latest state, not the backlog
      sub.resyncReason = 'slow_consumer';
      // Set already when its status frame is still inside uWS, undelivered: then too it is owed.
      sub.detachedInStatus = stream.channel === 'book' && stream.status !== 'live';
      this.d.counters.conflations++;
      this.wait(sub);
    }
  }

  /** Called after a frame of `stream` was published: subscriptions waiting for that seq can finish. */
  published(stream: Stream): void {
    const set = this.seams.get(stream.key);
    if (set === undefined || set.size === 0) return;
    for (const sub of set) this.progress(sub); // each leaves the set once its seq is published
  }

  /** A fired price alert: to every connection of its user on this node (alerts are rare: no index). */
  deliverToUser(user: string, frame: string): number {
    let n = 0;
    for (const ws of this.sockets) {
      const s = ws.getUserData();
      if (s.closed || s.identity === undefined || s.identity.user !== user || user === '') continue;
      this.sendText(ws, frame);
      n++;
    }
    return n;
  }

  // ── sending ──────────────────────────────────────────────────────────────────

  private hasRoom(ws: Socket<Session>): boolean {
    return ws.getBufferedAmount() <= this.roomBytes;
  }

  /**
   * A direct send (history, snapshot, catch-up, resync). If it leaves the connection's backlog
   * above WS_CONFLATE_BYTES, its live subscriptions are detached at once: published frames must
   * never find it over uWS's ceiling, where they would be skipped without a trace.
   */
  private send(ws: Socket<Session>, bytes: Uint8Array): boolean {
    if (ws.send(bytes, false) === SEND_DROPPED) return false;
    this.d.counters.messagesSent++;
    this.d.counters.bytesSent += bytes.length;
    if (ws.getBufferedAmount() > this.d.cfg.wsConflateBytes) this.conflate(ws);
    return true;
  }

  private sendStatus(ws: Socket<Session>, frame: Uint8Array): void {
    if (ws.send(frame, false) !== SEND_DROPPED) {
      this.d.counters.messagesSent++;
      this.d.counters.bytesSent += frame.length;
    }
  }

  private sendText(ws: Socket<Session>, text: string): void {
    if (ws.send(text, false) !== SEND_DROPPED) {
      this.d.counters.messagesSent++;
      this.d.counters.bytesSent += text.length;
    }
  }

  private error(ws: Socket<Session>, code: ErrorCode, message: string, symbol?: string): void {
    this.count(this.d.counters.errorsSent, code);
    this.sendText(ws, errorFrame(code, message, symbol ? { symbol } : undefined));
  }

  private count(m: Map<string, number>, key: string): void {
    m.set(key, (m.get(key) ?? 0) + 1);
  }
}

/** The stream of `sym` a channel names. */
function streamOf(sym: FrontSymbol, channel: Channel): Stream {
  if (channel === 'book') return sym;
  if (channel === 'trades') return sym.trades;
  if (channel === 'ticker') return sym.ticker;
  return sym.candles[INTERVALS.indexOf(channel.slice(8) as Interval)];
}
