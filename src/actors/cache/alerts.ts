// Price alerts, the cache actor's side: the API's create/list/delete, the alerts' state in PostgreSQL, commands to the shards, firing exactly once, delivery.
//
// The shards evaluate (each owned symbol's AlertBook, fed by commands through a queue per
// shard); a firing comes back through another queue. Firing is `update … set status =
// 'triggered' where status = 'active'`: whichever process (or node on the same database) changes
// the row delivers, once: a `{"type":"alert",…}` frame to the user's connections on this node and,
// when set, a webhook POST signed with HMAC-SHA256 (ALERT_WEBHOOK_SECRET), retried with backoff,
// its outcome recorded in the row. At start, active alerts go to the shards, then are checked
// against the stored trades of the last ALERT_RECHECK_MS: a crossing made just before a restart
// still fires (once: the update decides). Expired alerts are swept every SWEEP_MS.

import { createHmac } from 'node:crypto';
import pg from 'pg';
import { type AlertCondition, AlertBook, CONDITIONS } from '../../analytics/alert-book.js';
import { type Identity, hasScope } from '../../auth/identity.js';
import type { Config } from '../../config.js';
import type { Logger } from '../../log.js';
import {
  AC_CONDITION, AC_ID, AC_OP, AC_SYMBOL, AC_TARGET, AF_EPOCH, AF_ID, AF_PRICE, AF_SEQ, AF_TIME,
  ALERT_ADD, ALERT_COMMAND_BYTES, ALERT_REMOVE,
} from '../../ring/layout.js';
import { QueueConsumer, QueueProducer } from '../../ring/spsc.js';

const POLL_MS = 20;
const SWEEP_MS = 1_000;
/** Alerts other nodes on the same database created are picked up this often. */
const NEW_ALERTS_MS = 1_000;
/** Webhook attempts and the first retry delay (doubling). */
const WEBHOOK_ATTEMPTS = 5;
const WEBHOOK_FIRST_RETRY_MS = 1_000;
const WEBHOOK_TIMEOUT_MS = 5_000;
/** Firings waiting for PostgreSQL, and commands waiting for room in a shard's queue: bounded. */
const BACKLOG_MAX = 1_000_000;
const TTL_MAX_S = 30 * 86_400;
const RECHECK_TRADES_MAX = 200_000;

export interface AlertQueues {
  commands: SharedArrayBuffer;
  firings: SharedArrayBuffer;
}

export interface AlertRow {
  alert_id: string;
  user_id: string;
  symbol: string;
  condition: AlertCondition;
  target_price: number;
  webhook_url: string | null;
  status: 'active' | 'triggered' | 'expired' | 'deleted';
  created_at: string;
  expires_at: string | null;
  triggered_at: string | null;
  trigger_price: number | null;
  webhook_status: string | null;
  webhook_attempts: number;
  webhook_last_error: string | null;
}

export interface AlertReply {
  status: number;
  body: unknown;
}

interface Command { op: number; symbolId: number; id: number; condition: number; target: number }
interface Firing { id: number; price: number; epoch: number; seq: number; time: number }

const bad = (field: string, message: string): AlertReply => ({ status: 400, body: { code: 'invalid_parameter', field, message: `${field}: ${message}` } });

export class AlertHub {
  private readonly pool: pg.Pool;
  private readonly commands: QueueProducer[];
  private readonly firings: QueueConsumer[];
  private readonly outbox: Command[][];
  private readonly waiting: Firing[] = [];
  private timers: NodeJS.Timeout[] = [];
  private readonly inflight = new Set<Promise<void>>();
  private closed = false;
  private loaded = false;
  /** The highest alert_id sent to the shards: newer active ones (another node's) are looked for. */
  private lastSeen = 0;
  private polling = false;
  /** Webhooks pending from before this (a previous process's) are resumed at start; this process's own are in flight. */
  private startedAt = 0;
  readonly counters = { created: 0, deleted: 0, fired: 0, lostRaces: 0, expired: 0, webhooksDelivered: 0, webhooksFailed: 0, recheckFired: 0 };

  constructor(
    private readonly cfg: Config,
    databaseUrl: string,
    queues: readonly AlertQueues[],
    /** Symbol → its id and shard (the registrations the cache actor knows). */
    private readonly symbolOf: (name: string) => { id: number; shard: number } | undefined,
    /** Sends an alert frame to the user's connections (the front, over its links). */
    private readonly deliver: (user: string, frame: string) => void,
    private readonly log: Logger,
  ) {
    this.pool = new pg.Pool({ connectionString: databaseUrl, max: 3, connectionTimeoutMillis: 3000 });
    this.pool.on('error', (e) => log.warn('alerts: PostgreSQL connection lost', { error: e.message }));
    this.commands = queues.map((q) => new QueueProducer(q.commands));
    this.firings = queues.map((q) => new QueueConsumer(q.firings));
    this.outbox = queues.map(() => []);
  }

  /** Sends the active alerts to the shards, checks them against the recent stored trades, then serves firings. */
  async start(): Promise<void> {
    this.startedAt = Date.now();
    this.timers.push(setInterval(() => void this.poll(), POLL_MS));
    this.timers.push(setInterval(() => void this.sweep(), SWEEP_MS));
    this.timers.push(setInterval(() => void this.pickUpNew(), NEW_ALERTS_MS));
    await this.load();
  }

  private async load(): Promise<void> {
    try {
      await this.sweep();
      const r = await this.pool.query<{ alert_id: string; symbol: string; condition: AlertCondition; target_price: string }>(
        "select alert_id, symbol, condition, target_price from price_alerts where status = 'active'");
      for (const a of r.rows) {
        this.send(ALERT_ADD, a.symbol, Number(a.alert_id), a.condition, Number(a.target_price));
        this.lastSeen = Math.max(this.lastSeen, Number(a.alert_id));
      }
      this.loaded = true;
      await this.recheck();
      await this.resumeWebhooks();
    } catch (e) {
      this.log.warn('alerts: could not load the active alerts; retrying', { error: (e as Error).message });
      if (!this.closed) this.timers.push(setTimeout(() => void this.load(), 2_000));
    }
  }

  /** A restarted shard lost its books: every active alert of its symbols goes to it again (an add is idempotent). */
  async resend(shard: number): Promise<void> {
    if (!this.loaded) return; // load() sends everything anyway
    const r = await this.pool.query<{ alert_id: string; symbol: string; condition: AlertCondition; target_price: string }>(
      "select alert_id, symbol, condition, target_price from price_alerts where status = 'active'");
    for (const a of r.rows) if (this.symbolOf(a.symbol)?.shard === shard) this.send(ALERT_ADD, a.symbol, Number(a.alert_id), a.condition, Number(a.target_price));
  }

  /** Active alerts created since the last look (by another node sharing the database): to the shards. */
  private async pickUpNew(): Promise<void> {
    if (!this.loaded || this.closed) return;
    try {
      const r = await this.pool.query<{ alert_id: string; symbol: string; condition: AlertCondition; target_price: string }>(
        "select alert_id, symbol, condition, target_price from price_alerts where status = 'active' and alert_id > $1 order by alert_id", [this.lastSeen]);
      for (const a of r.rows) {
        this.send(ALERT_ADD, a.symbol, Number(a.alert_id), a.condition, Number(a.target_price));
        this.lastSeen = Math.max(this.lastSeen, Number(a.alert_id));
      }
    } catch (e) {
      this.log.debug('alerts: new alerts not looked for (PostgreSQL away)', { error: (e as Error).message });
    }
  }

  // ── the API ──────────────────────────────────────────────────────────────────

  async create(identity: Identity, body: unknown): Promise<AlertReply> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return bad('body', 'expected a JSON object {symbol, condition, target_price, ttl_seconds?, webhook_url?}');
    const b = body as Record<string, unknown>;
    if (typeof b.symbol !== 'string' || !this.symbolOf(b.symbol)) return bad('symbol', `expected a symbol served here (GET /symbols), got ${JSON.stringify(b.symbol)?.slice(0, 40)}`);
    if (typeof b.condition !== 'string' || !(CONDITIONS as readonly string[]).includes(b.condition)) return bad('condition', `expected one of ${CONDITIONS.join(', ')}`);
    const target = b.target_price;
    if (typeof target !== 'number' || !(target > 0) || !Number.isFinite(target) || target >= 1e14) return bad('target_price', 'expected a positive number below 1e14');
    const ttl = b.ttl_seconds;
    if (ttl !== undefined && (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1 || ttl > TTL_MAX_S)) return bad('ttl_seconds', `expected a whole number of seconds from 1 to ${TTL_MAX_S}`);
    const hook = b.webhook_url;
    if (hook !== undefined) {
      if (typeof hook !== 'string' || !isHttpUrl(hook)) return bad('webhook_url', 'expected an http(s) URL of at most 2048 characters');
      if (!this.cfg.alertWebhookSecret) return bad('webhook_url', 'webhooks need ALERT_WEBHOOK_SECRET set on the server (their signature key)');
    }
    const user = identity.user || identity.name || 'anonymous';
    const r = await this.pool.query<{ alert_id: string }>(
      `insert into price_alerts (user_id, symbol, condition, target_price, webhook_url, expires_at)
       values ($1, $2, $3, $4, $5, case when $6::int is null then null else now() + $6::int * interval '1 second' end)
       returning alert_id`, [user, b.symbol, b.condition, target, hook ?? null, ttl ?? null]);
    const id = r.rows[0].alert_id;
    this.send(ALERT_ADD, b.symbol, Number(id), b.condition as AlertCondition, target);
    this.counters.created++;
    return { status: 201, body: { alert_id: id } };
  }

  /** The caller's alerts (an admin: everyone's), newest first, optionally of one status. */
  async list(identity: Identity, status: string | null): Promise<AlertReply> {
    if (status !== null && !['active', 'triggered', 'expired', 'deleted'].includes(status)) return bad('status', 'expected active, triggered, expired or deleted');
    const admin = hasScope(identity, 'admin');
    const r = await this.pool.query<AlertRow>(
      `select alert_id::text, user_id, symbol, condition, target_price::float8 as target_price, webhook_url, status,
              created_at, expires_at, triggered_at, trigger_price::float8 as trigger_price, webhook_status, webhook_attempts, webhook_last_error
         from price_alerts
        where ($1::boolean or user_id = $2) and ($3::text is null or status = $3)
        order by alert_id desc limit 10000`, [admin, identity.user || identity.name || 'anonymous', status]);
    return { status: 200, body: { alerts: r.rows } };
  }

  /** Deletes an active alert of the caller's (an admin: anyone's); another user's is not found. */
  async remove(identity: Identity, idText: string): Promise<AlertReply> {
    if (!/^\d{1,15}$/.test(idText)) return bad('alert_id', 'expected the alert_id POST returned');
    const r = await this.pool.query<{ symbol: string; status: string }>(
      `update price_alerts set status = case when status = 'active' then 'deleted' else status end
        where alert_id = $1 and ($2::boolean or user_id = $3)
        returning symbol, status`, [idText, hasScope(identity, 'admin'), identity.user || identity.name || 'anonymous']);
    if (r.rows.length === 0) return { status: 404, body: { code: 'not_found', message: `no alert ${idText} of yours` } };
    this.send(ALERT_REMOVE, r.rows[0].symbol, Number(idText), 'above', 1);
    this.counters.deleted++;
    return { status: 200, body: { alert_id: idText, status: r.rows[0].status } };
  }

  // ── shards ───────────────────────────────────────────────────────────────────

  private send(op: number, symbol: string, id: number, condition: AlertCondition, target: number): void {
    const s = this.symbolOf(symbol);
    if (!s) return;
    const box = this.outbox[s.shard];
    if (box.length >= BACKLOG_MAX) {
      this.log.error('alerts: a shard takes no commands; dropped one (it gets every active alert again when it restarts)');
      return;
    }
    box.push({ op, symbolId: s.id, id, condition: CONDITIONS.indexOf(condition), target });
    this.flush(s.shard);
  }

  private flush(shard: number): void {
    const box = this.outbox[shard];
    const q = this.commands[shard];
    let n = 0;
    for (; n < box.length; n++) {
      const c = box[n];
      const at = q.reserve(ALERT_COMMAND_BYTES);
      if (at < 0) break; // the rest on the next poll
      q.u32[(at >> 2) + AC_OP] = c.op;
      q.u32[(at >> 2) + AC_SYMBOL] = c.symbolId;
      q.f64[(at >> 3) + AC_ID] = c.id;
      q.u32[(at >> 2) + AC_CONDITION] = c.condition;
      q.f64[(at >> 3) + AC_TARGET] = c.target;
      q.commit(ALERT_COMMAND_BYTES, c.symbolId, false);
    }
    if (n > 0) box.splice(0, n);
  }

  /** Firings from the shards, and the commands a full queue held back. */
  private async poll(): Promise<void> {
    // One poll at a time: a second one, started while the first waits on PostgreSQL, would fire
    // the same waiting firing twice and then drop another.
    if (this.polling) return;
    this.polling = true;
    try {
      await this.pollOnce();
    } finally {
      this.polling = false;
    }
  }

  private async pollOnce(): Promise<void> {
    for (let i = 0; i < this.outbox.length; i++) if (this.outbox[i].length > 0) this.flush(i);
    for (const q of this.firings) {
      for (let at = q.peek(); at >= 0; at = q.peek()) {
        const b = at >> 3;
        if (this.waiting.length < BACKLOG_MAX) {
          this.waiting.push({ id: q.f64[b + AF_ID], price: q.f64[b + AF_PRICE], epoch: q.f64[b + AF_EPOCH], seq: q.f64[b + AF_SEQ], time: q.f64[b + AF_TIME] });
        }
        q.release();
      }
    }
    while (this.waiting.length > 0 && !this.closed) {
      const f = this.waiting[0];
      try {
        await this.fire(f);
      } catch (e) {
        this.log.warn('alerts: a firing waits for PostgreSQL', { error: (e as Error).message });
        return; // kept: tried again on the next poll
      }
      this.waiting.shift();
    }
  }

  /** The first firing of an alert changes its row and delivers it; any other finds it triggered already. */
  private async fire(f: Firing): Promise<boolean> {
    const r = await this.pool.query<{ user_id: string; symbol: string; condition: string; target_price: number; webhook_url: string | null; triggered_at: Date }>(
      `update price_alerts set status = 'triggered', triggered_at = now(), trigger_price = $2, trigger_epoch = $3, trigger_seq = $4,
              trigger_time = timestamptz 'epoch' + $5::float8 * interval '1 millisecond',
              webhook_status = case when webhook_url is null then null else 'pending' end
        where alert_id = $1 and status = 'active' and (expires_at is null or expires_at > now())
        returning user_id, symbol, condition, target_price::float8 as target_price, webhook_url, triggered_at`,
      [f.id, f.price, f.epoch, f.seq, f.time]);
    if (r.rows.length === 0) {
      this.counters.lostRaces++; // fired by another process, deleted or expired meanwhile
      return false;
    }
    const a = r.rows[0];
    this.counters.fired++;
    const frame = JSON.stringify({
      type: 'alert', alert_id: String(f.id), symbol: a.symbol, condition: a.condition, target_price: a.target_price, price: f.price,
      trade: { epoch: f.epoch, seq: f.seq, time: new Date(f.time).toISOString() }, triggered_at: a.triggered_at.toISOString(),
    });
    this.deliver(a.user_id, frame);
    if (a.webhook_url) this.track(this.webhook(String(f.id), a.webhook_url, frame, 0));
    return true;
  }

  // ── webhooks ─────────────────────────────────────────────────────────────────

  /** POSTs `body` with its signature; on failure retries with backoff, and records the outcome. */
  private async webhook(id: string, url: string, body: string, attempt: number): Promise<void> {
    if (this.closed) return;
    const timestamp = String(Date.now());
    const signature = createHmac('sha256', this.cfg.alertWebhookSecret ?? '').update(`${timestamp}.${body}`).digest('hex');
    let error: string | undefined;
    try {
      const res = await fetch(url, {
        method: 'POST', body, signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS), redirect: 'manual',
        headers: { 'content-type': 'application/json', 'x-tickplant-alert-id': id, 'x-tickplant-timestamp': timestamp, 'x-tickplant-signature': `sha256=${signature}` },
      });
      if (res.status < 200 || res.status >= 300) error = `HTTP ${res.status}`;
      await res.body?.cancel();
    } catch (e) {
      error = (e as Error).message;
    }
    const attempts = attempt + 1;
    const done = error === undefined || attempts >= WEBHOOK_ATTEMPTS;
    await this.pool.query(
      `update price_alerts set webhook_attempts = $2, webhook_last_error = $3,
              webhook_status = $4, webhook_delivered_at = case when $3::text is null then now() else webhook_delivered_at end
        where alert_id = $1`, [id, attempts, error ?? null, error === undefined ? 'delivered' : done ? 'failed' : 'pending'],
    ).catch((e: Error) => this.log.warn('alerts: webhook outcome not recorded', { alert_id: id, error: e.message }));
    if (error === undefined) this.counters.webhooksDelivered++;
    else if (done) {
      this.counters.webhooksFailed++;
      this.log.warn('alerts: webhook failed for good', { alert_id: id, attempts, error });
    } else {
      const t = setTimeout(() => this.track(this.webhook(id, url, body, attempts)), WEBHOOK_FIRST_RETRY_MS * 2 ** attempt);
      this.timers.push(t);
    }
  }

  /** Webhooks a previous process left pending (it stopped between firing and delivery) are sent again. */
  private async resumeWebhooks(): Promise<void> {
    const r = await this.pool.query<{ alert_id: string; user_id: string; symbol: string; condition: string; target_price: number; webhook_url: string; trigger_price: number; trigger_epoch: string; trigger_seq: string; trigger_time: Date; triggered_at: Date; webhook_attempts: number }>(
      `select alert_id::text, user_id, symbol, condition, target_price::float8 as target_price, webhook_url, trigger_price::float8 as trigger_price,
              trigger_epoch, trigger_seq, trigger_time, triggered_at, webhook_attempts
         from price_alerts where status = 'triggered' and webhook_status = 'pending'
          and triggered_at < timestamptz 'epoch' + $1::float8 * interval '1 millisecond'`, [this.startedAt]);
    for (const a of r.rows) {
      const frame = JSON.stringify({
        type: 'alert', alert_id: a.alert_id, symbol: a.symbol, condition: a.condition, target_price: a.target_price, price: a.trigger_price,
        trade: { epoch: Number(a.trigger_epoch), seq: Number(a.trigger_seq), time: a.trigger_time.toISOString() }, triggered_at: a.triggered_at.toISOString(),
      });
      this.track(this.webhook(a.alert_id, a.webhook_url, frame, a.webhook_attempts));
    }
  }

  // ── sweeping and the restart check ───────────────────────────────────────────

  private async sweep(): Promise<void> {
    if (this.closed) return;
    try {
      const r = await this.pool.query<{ alert_id: string; symbol: string }>(
        "update price_alerts set status = 'expired' where status = 'active' and expires_at <= now() returning alert_id, symbol");
      for (const a of r.rows) this.send(ALERT_REMOVE, a.symbol, Number(a.alert_id), 'above', 1);
      this.counters.expired += r.rows.length;
    } catch (e) {
      this.log.debug('alerts: sweep failed (PostgreSQL away)', { error: (e as Error).message });
    }
  }

  /**
   * Checks the active alerts against the stored trades of the last ALERT_RECHECK_MS, in trade
   * order, each from its creation on: a crossing the previous process saw (or did not live to
   * see) but did not record fires now, once (fire() decides).
   */
  private async recheck(): Promise<void> {
    if (this.cfg.alertRecheckMs === 0) return;
    const r = await this.pool.query<{ alert_id: string; symbol: string; condition: AlertCondition; target_price: number; created_ms: number }>(
      `select alert_id::text, symbol, condition, target_price::float8 as target_price, (extract(epoch from created_at) * 1000)::float8 as created_ms
         from price_alerts where status = 'active' order by symbol, created_at`);
    const bySymbol = new Map<string, typeof r.rows>();
    for (const a of r.rows) (bySymbol.get(a.symbol) ?? bySymbol.set(a.symbol, []).get(a.symbol)!).push(a);
    const since = Date.now() - this.cfg.alertRecheckMs;
    for (const [symbol, alerts] of bySymbol) {
      const from = Math.max(since, alerts[0].created_ms);
      // The trade before `from` gives the crossings their previous price.
      const t = await this.pool.query<{ price: number; epoch: string; seq: string; time_ms: number }>(
        `(select price::float8 as price, epoch, seq, (extract(epoch from time) * 1000)::float8 as time_ms from trades
           where symbol = $1 and time < timestamptz 'epoch' + $2::float8 * interval '1 millisecond' order by time desc, epoch desc, seq desc limit 1)
         union all
         (select price::float8, epoch, seq, (extract(epoch from time) * 1000)::float8 from trades
           where symbol = $1 and time >= timestamptz 'epoch' + $2::float8 * interval '1 millisecond' order by time, epoch, seq limit $3)`,
        [symbol, from, RECHECK_TRADES_MAX]);
      const book = new AlertBook();
      let next = 0;
      const fired: Firing[] = [];
      for (const trade of t.rows) {
        while (next < alerts.length && alerts[next].created_ms <= trade.time_ms) {
          const a = alerts[next++];
          book.add(Number(a.alert_id), a.condition, a.target_price);
        }
        book.trade(trade.price, (id) => fired.push({ id, price: trade.price, epoch: Number(trade.epoch), seq: Number(trade.seq), time: trade.time_ms }));
      }
      for (const f of fired) if (await this.fire(f)) this.counters.recheckFired++;
    }
  }

  /** A webhook attempt in flight: close() lets it finish and record its outcome (each is bounded by WEBHOOK_TIMEOUT_MS). */
  private track(p: Promise<void>): void {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    await Promise.allSettled([...this.inflight]);
    await this.pool.end();
  }
}

function isHttpUrl(s: string): boolean {
  if (s.length > 2048) return false;
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}
