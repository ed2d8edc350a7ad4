// The operator's routes of the front: /metrics (the runtime's figures, then the cache actor's) and /health/detailed.

import { Registry, collectDefaultMetrics } from 'prom-client';
import { ANONYMOUS_READER, hasScope } from '../../auth/identity.js';
import type { HttpReply, HttpRequest } from '../../protocol/http.js';
import type { ComponentHealth } from '../supervisor/messages.js';
import type { CacheLink } from './cache-link.js';
import { errorReply } from './http.js';
import { type RuntimeSnapshot, registerRuntimeMetrics } from './runtime-metrics.js';

/** prom-client default metrics that are gauges despite their `_total` suffix. */
const GAUGES_NAMED_TOTAL = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export interface OpsDeps {
  runtime(): Promise<RuntimeSnapshot>;
  health(): Promise<Record<string, ComponentHealth>>;
  cache: CacheLink;
}

export const OPS_PATHS = new Set(['/metrics', '/health/detailed']);

export class OpsHttp {
  private readonly registry = new Registry();
  private readonly runtimeMetrics: { refresh(): Promise<void> };

  constructor(private readonly d: OpsDeps) {
    // prom-client names them process_* and nodejs_*: the prefix makes tickplant_process_cpu_seconds_total.
    // Collected on the front's thread, so the event-loop lag is the fan-out's.
    collectDefaultMetrics({ register: this.registry, prefix: 'tickplant_' });
    // Three of them are gauges named `_total`, which Prometheus reserves for counters; the gauges
    // by type beside them (tickplant_nodejs_active_handles{type}, …) hold the same figures.
    for (const name of GAUGES_NAMED_TOTAL) this.registry.removeSingleMetric(`tickplant_${name}`);
    this.runtimeMetrics = registerRuntimeMetrics(this.registry, d.runtime);
  }

  handle(req: HttpRequest): Promise<HttpReply> {
    if (req.method !== 'GET') {
      return Promise.resolve({ ...errorReply(req.url, 405, 'method_not_allowed', `${req.method} ${req.url}: use GET`), headers: { allow: 'GET' } });
    }
    return req.url === '/metrics' ? this.metrics() : this.detailedHealth(hasScope(req.identity ?? ANONYMOUS_READER, 'admin'));
  }

  /** Ours, then the cache actor's tickplant_cache_* (its own registry; no name is in both). */
  private async metrics(): Promise<HttpReply> {
    const [, cache] = await Promise.all([this.runtimeMetrics.refresh(), this.d.cache.metrics()]);
    const own = await this.registry.metrics();
    return { status: 200, body: cache ? `${own}\n${cache}` : own, contentType: this.registry.contentType };
  }

  /** Without an admin credential, each component's status only: the details name hosts, errors and internals. */
  private async detailedHealth(admin: boolean): Promise<HttpReply> {
    const [components, c, rt] = await Promise.all([this.d.health(), this.d.cache.health(), this.d.runtime()]);
    components.cache = c.health
      ? { status: c.health.status, detail: `redis ${c.health.redis.state}, postgres ${c.health.postgres.state}` }
      : { status: 'degraded', detail: c.error };
    const states = Object.values(components).map((x) => x.status);
    const status = states.includes('down') ? 'down' : states.includes('degraded') ? 'degraded' : 'ok';
    const code = status === 'down' ? 503 : 200;
    if (!admin) {
      const summary = Object.fromEntries(Object.entries(components).map(([k, v]) => [k, { status: v.status }]));
      return { status: code, body: JSON.stringify({ status, components: summary, details: 'with an admin credential' }) };
    }
    const body = {
      status,
      components,
      cache: c.health ?? { status: 'degraded', error: c.error },
      websocket: { connections: rt.front.connections, subscriptions: rt.front.subscriptions, messagesSent: rt.front.messagesSent },
      feedToPublish: rt.front.feedToPublish,
      uptimeS: rt.supervisor?.uptimeS,
    };
    return { status: code, body: JSON.stringify(body) };
  }
}
