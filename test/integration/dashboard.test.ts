// The Grafana dashboard (deploy/grafana) against a live tickplant's /metrics, and the compose file that provisions it with Prometheus.
//
// Every metric a panel or variable queries must be a series /metrics exposes (a histogram only
// through its _bucket, _sum and _count series), with every label the query matches or groups by.
// The runtime runs the simulator, a scripted exchange feed and Redis, and is driven through
// resyncs, an exchange reconnect, error frames and refusals, so that labelled counters have
// samples whose labels can be checked. The compose file is checked statically (no Docker engine
// in tests): each bind mount's source exists, and the paths the provisioning files name resolve
// through the mounts to the files in deploy/.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import parsePrometheusTextFormat, { type MetricFamily } from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { registerExchange, servedName, unregisterExchange } from '../../src/feeds/exchanges.js';
import { REDIS_URL, type Runtime, sleep, startRuntime } from '../helpers/runtime.js';
import { TestClient } from '../helpers/ws-client.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const DASHBOARD_FILE = 'deploy/grafana/dashboards/tickplant.json';
const DATASOURCES_FILE = 'deploy/grafana/provisioning/datasources/prometheus.yml';
const PROVIDERS_FILE = 'deploy/grafana/provisioning/dashboards/tickplant.yml';
const PROMETHEUS_FILE = 'deploy/prometheus/prometheus.yml';

interface Target { refId: string; expr: string; datasource?: unknown }
interface Panel { id: number; type: string; title: string; datasource?: unknown; targets?: Target[]; gridPos: { x: number; y: number; w: number; h: number }; panels?: Panel[] }
interface Variable { name: string; type: string; query?: unknown; definition?: string; current?: { value?: unknown } }
interface Dashboard { uid: string; title: string; schemaVersion: number; panels: Panel[]; templating: { list: Variable[] } }

const dashboard = JSON.parse(read(DASHBOARD_FILE)) as Dashboard;
const allPanels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const queryPanels = allPanels.filter((p) => p.type !== 'row');

// --- PromQL: the metrics and labels an expression uses -------------------------------------

/** PromQL's functions and aggregations this dashboard may call; any other word before `(` fails the test. */
const FUNCTIONS = new Set([
  'sum', 'min', 'max', 'avg', 'count', 'topk', 'bottomk', 'quantile', 'stddev', 'group',
  'rate', 'irate', 'increase', 'delta', 'idelta', 'deriv', 'histogram_quantile', 'abs', 'clamp_min', 'clamp_max',
  'avg_over_time', 'max_over_time', 'min_over_time', 'sum_over_time', 'last_over_time', 'absent', 'vector', 'scalar', 'time',
]);
const OPERATORS = new Set(['and', 'or', 'unless', 'bool', 'offset']);

interface Selector { metric: string; labels: string[] }
interface Parsed { selectors: Selector[]; grouping: string[] }

const splitLabels = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);

/**
 * Selectors and grouping labels of one expression. String literals go first (a matcher's value
 * may hold anything, Grafana variables included), then range and subquery brackets, then
 * `by (…)`/`on (…)` lists, then `metric{…}` selectors; the words left are functions (followed
 * by `(`), operators, or bare metric names.
 */
function parsePromQL(expr: string): Parsed {
  let s = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
  s = s.replace(/\[[^\]]*\]/g, ' ');
  const grouping: string[] = [];
  s = s.replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_, labels: string) => {
    grouping.push(...splitLabels(labels));
    return ' ';
  });
  const selectors: Selector[] = [];
  s = s.replace(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g, (_, metric: string, matchers: string) => {
    selectors.push({ metric, labels: [...matchers.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1]) });
    return ' ';
  });
  s = s.replace(/(?<![a-zA-Z0-9_:])\d+(?:\.\d+)?(?:e[-+]?\d+)?/gi, ' ');
  for (const m of s.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    if (m[2]) {
      if (!FUNCTIONS.has(m[1])) throw new Error(`${expr}: unknown function ${m[1]}`);
    } else if (!OPERATORS.has(m[1])) {
      selectors.push({ metric: m[1], labels: [] });
    }
  }
  if (/[{}]/.test(s)) throw new Error(`${expr}: a selector without a metric name`);
  return { selectors, grouping };
}

/** Every query of the dashboard: panel targets, and the `label_values(selector, label)` of query variables. */
function dashboardQueries(): { where: string; expr: string; parsed: Parsed }[] {
  const out = queryPanels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel ${p.id} "${p.title}" ${t.refId}`, expr: t.expr, parsed: parsePromQL(t.expr) })));
  for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) {
    const def = v.definition ?? '';
    const m = /^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$/.exec(def);
    if (!m) throw new Error(`variable ${v.name}: expected label_values(selector, label), got ${def}`);
    const parsed = parsePromQL(m[1]);
    parsed.grouping.push(m[2]);
    out.push({ where: `variable ${v.name}`, expr: def, parsed });
  }
  return out;
}

// --- /metrics: the series and labels a live runtime exposes --------------------------------

/** Labels Prometheus adds to every series it scrapes. */
const TARGET_LABELS = ['instance', 'job'];

interface Scrape {
  families: Map<string, MetricFamily>;
  /** Label names by sample name (`x_bucket` has `le`), from the text itself: the parser folds a labelled histogram's samples into one. */
  labels: Map<string, Set<string>>;
}

function parseScrape(text: string): Scrape {
  const labels = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s/.exec(line);
    if (!m) continue;
    const set = labels.get(m[1]) ?? new Set(TARGET_LABELS);
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"/g)) set.add(l[1]);
    labels.set(m[1], set);
  }
  return { families: new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f])), labels };
}

interface Series { family: MetricFamily; labels: Set<string> | undefined }

/**
 * The series `name` queries, or undefined: a histogram only as _bucket, _sum and _count, a
 * summary as _sum and _count (a bare histogram name is no series). `labels` is undefined while
 * the family has no sample: prom-client writes HELP and TYPE alone for a labelled metric then.
 */
function seriesOf(scrape: Scrape, name: string): Series | undefined {
  const f = scrape.families.get(name);
  if (f && f.type !== 'HISTOGRAM' && f.type !== 'SUMMARY') return { family: f, labels: scrape.labels.get(name) };
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  const base = m ? scrape.families.get(m[1]) : undefined;
  if (!m || !base) return undefined;
  if (base.type === 'HISTOGRAM' || (base.type === 'SUMMARY' && m[2] !== 'bucket')) return { family: base, labels: scrape.labels.get(name) };
  return undefined;
}

// --- the live runtime ------------------------------------------------------------------------

describe('the dashboard against a live /metrics', () => {
  let rt: Runtime;
  let server: WebSocketServer;
  let exchange: WebSocket | undefined;
  let connections = 0;
  let scraped: Scrape;
  const run = Math.random().toString(36).slice(2, 8).toUpperCase();

  const scrape = async () => parseScrape(await (await fetch(`${rt.http}/metrics`)).text());
  const has = (name: string, labels: Record<string, string> = {}) =>
    (scraped.families.get(name)?.metrics ?? []).some((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  const count = (name: string) => Number(scraped.families.get(name)?.metrics[0]?.count ?? 0);

  beforeAll(async () => {
    server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => server.once('listening', r));
    server.on('connection', (ws) => {
      exchange = ws;
      connections++;
    });
    const url = `ws://127.0.0.1:${(server.address() as { port: number }).port}`;
    registerExchange('test', {
      module: new URL('../fixtures/scripted-connector.ts', import.meta.url).href,
      factory: 'createScriptedConnector',
      served: (s) => servedName('test', s),
      symbol: /^[A-Z]{3}$/,
      example: 'AAA',
      options: () => ({ wsUrl: url }),
    });
    rt = await startRuntime({ feeds: 'test:AAA;simulator:US.AAPL', shards: 1, simUpdatesPerSecond: 50, redisUrl: REDIS_URL, staleAfterMs: 60_000 });
    const send = (op: Record<string, unknown>) => exchange!.send(JSON.stringify(op));
    const connected = async (n: number) => {
      for (let i = 0; i < 200 && connections < n; i++) await sleep(50);
      if (connections < n) throw new Error(`the scripted exchange saw ${connections} connection(s) of ${n} within 10 s`);
    };
    await connected(1);

    // The exchange: books, a resync, a trade, then a dropped connection the connector reopens.
    send({ op: 'book', symbol: 'AAA', bids: [[100, 1]], asks: [[101, 1]], reset: true, seq: 1 });
    send({ op: 'resyncing', symbol: 'AAA', reason: 'gap' });
    send({ op: 'book', symbol: 'AAA', bids: [[100, 2]], asks: [[101, 2]], reset: true, seq: 5 });
    send({ op: 'trade', symbol: 'AAA', id: '1', price: 100.5, size: 1, side: 'buy' });
    await sleep(200);
    exchange!.close();
    await connected(2);
    send({ op: 'book', symbol: 'AAA', bids: [[100, 3]], asks: [[101, 3]], reset: true });

    // Clients: a resume from an unknown epoch (a resync), a message the server refuses (an error
    // frame), a bad credential on HTTP and on a WebSocket, an upgrade from a foreign origin.
    const c = await TestClient.connect(rt.ws);
    c.send({ action: 'subscribe', symbol: 'US.AAPL', resume: { seq: 5, epoch: 12345 } });
    await c.waitFor((m) => m.type === 'resync');
    c.send({ action: 'no-such-action' });
    await c.waitFor((m) => m.type === 'error');
    await fetch(`${rt.http}/symbols`, { headers: { 'x-api-key': 'not-a-key' } });
    const bad = await TestClient.connect(`${rt.ws}?token=not-a-key`);
    await bad.waitFor((m) => m.type === 'error' && m.code === 'unauthorized');
    bad.close();
    await expect(TestClient.connect(rt.ws, { origin: 'https://elsewhere.example' })).rejects.toThrow(/403/);

    // The cache: a write, a hit, a miss.
    const api = `${rt.http}/api/v1/cache/stock-prices`;
    await fetch(`${api}/D${run}`, { method: 'POST', headers: { ...rt.admin, 'content-type': 'application/json' }, body: JSON.stringify({ close_price: 1 }) });
    await fetch(`${api}/D${run}`);
    await fetch(`${api}/D${run}X`);

    // Until the figures above reached the stats /metrics reads (the feed actor's come every few hundred ms).
    for (let i = 0; ; i++) {
      scraped = await scrape();
      const ready = has('tickplant_exchange_reconnects_total', { exchange: 'test' })
        && has('tickplant_exchange_resyncs_total', { reason: 'gap' })
        && has('tickplant_ws_resyncs_total')
        && has('tickplant_writer_row_queue_depth_bytes')
        && count('tickplant_feed_to_publish_seconds') > 0
        && count('tickplant_writer_commit_lag_seconds') > 0;
      if (ready) break;
      if (i > 150) throw new Error('the runtime\'s metrics did not show the exchange reconnect, the resyncs and the latency histograms within 15 s');
      await sleep(100);
    }
    c.close();
  }, 60_000);

  afterAll(async () => {
    await rt?.stop();
    unregisterExchange('test');
    await new Promise((r) => server?.close(r));
  });

  it('every metric a panel or variable queries is a series of /metrics', () => {
    const missing = dashboardQueries().flatMap(({ where, parsed }) =>
      parsed.selectors.filter((s) => !seriesOf(scraped, s.metric)).map((s) => `${where}: ${s.metric}`));
    expect(missing).toEqual([]);
  });

  it('every label a query matches or groups by is a label of its series', () => {
    const wrong: string[] = [];
    for (const { where, expr, parsed } of dashboardQueries()) {
      const series = parsed.selectors.map((s) => ({ s, labels: seriesOf(scraped, s.metric)?.labels }));
      for (const { s, labels } of series) {
        for (const l of s.labels) if (labels && !labels.has(l)) wrong.push(`${where}: ${s.metric} has no label ${l}`);
      }
      const known = series.filter((x) => x.labels);
      if (known.length === 0) continue;
      for (const l of parsed.grouping) {
        if (!known.some((x) => x.labels!.has(l))) wrong.push(`${where}: no series of ${expr} has the label ${l}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('the series left unchecked for labels are labelled counters that have not counted yet', () => {
    // prom-client writes HELP and TYPE for those, and their first sample once they count
    // (checksum failures, rejections, drops, stalls … stay at zero in this run).
    const unchecked = [...new Set(dashboardQueries().flatMap(({ parsed }) => parsed.selectors.map((s) => s.metric)))]
      .map((name) => seriesOf(scraped, name))
      .filter((s) => s && !s.labels)
      .map((s) => `${s!.family.name} ${s!.family.type}`);
    expect(unchecked.filter((x) => !x.endsWith(' COUNTER'))).toEqual([]);
  });

  it('answers the figures the dashboard draws from this run', () => {
    expect(has('tickplant_exchange_connected', { exchange: 'test', connection: '0' })).toBe(true);
    expect(has('tickplant_cache_hits_total', { namespace: 'stock_prices', tier: 'memory' })).toBe(true);
    expect(has('tickplant_ws_resyncs_total', { reason: 'epoch_changed' })).toBe(true);
    expect(has('tickplant_writer_row_queue_capacity_bytes', { shard: '0' })).toBe(true);
    expect(scraped.families.get('tickplant_writer_journal_records')?.metrics[0]?.value).toBe('0');
    expect(scraped.labels.get('tickplant_cache_operation_duration_seconds_bucket')).toEqual(new Set([...TARGET_LABELS, 'namespace', 'op', 'le']));
  });
});

// --- the dashboard JSON ----------------------------------------------------------------------

describe('the dashboard JSON', () => {
  const datasourceUid = /^\s+uid:\s*(\S+)\s*$/m.exec(read(DATASOURCES_FILE))?.[1];
  const DS = { type: 'prometheus', uid: '${DS_PROMETHEUS}' };

  it('is a dashboard of the current schema, with a uid, a title and panels', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(41);
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(dashboard.title).toBe('tickplant');
    expect(queryPanels.length).toBeGreaterThanOrEqual(20);
  });

  it('every panel has a unique id and a place on the 24-column grid, and none overlap', () => {
    const ids = allPanels.map((p) => p.id);
    for (const id of ids) expect(Number.isInteger(id) && id > 0, `id ${id}`).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { id, gridPos: g } of allPanels) {
      expect(g.w > 0 && g.h > 0 && g.x >= 0 && g.y >= 0 && g.x + g.w <= 24, `panel ${id}: ${JSON.stringify(g)}`).toBe(true);
    }
    for (const a of allPanels) {
      for (const b of allPanels) {
        if (a.id >= b.id) continue;
        const overlap = a.gridPos.x < b.gridPos.x + b.gridPos.w && b.gridPos.x < a.gridPos.x + a.gridPos.w
          && a.gridPos.y < b.gridPos.y + b.gridPos.h && b.gridPos.y < a.gridPos.y + a.gridPos.h;
        expect(overlap, `panels ${a.id} and ${b.id}`).toBe(false);
      }
    }
  });

  it('every panel queries the DS_PROMETHEUS datasource, with targets of distinct refIds', () => {
    for (const p of queryPanels) {
      expect(p.datasource, `panel ${p.id}`).toEqual(DS);
      expect(p.targets?.length, `panel ${p.id} targets`).toBeGreaterThan(0);
      expect(new Set(p.targets!.map((t) => t.refId)).size, `panel ${p.id} refIds`).toBe(p.targets!.length);
      for (const t of p.targets!) {
        expect(t.datasource, `panel ${p.id} ${t.refId}`).toEqual(DS);
        expect(t.expr.trim(), `panel ${p.id} ${t.refId}`).not.toBe('');
      }
    }
  });

  it('DS_PROMETHEUS is a datasource variable defaulting to the provisioned datasource; every variable used is defined', () => {
    const vars = new Map(dashboard.templating.list.map((v) => [v.name, v]));
    const ds = vars.get('DS_PROMETHEUS');
    expect(ds).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(datasourceUid).toBeDefined();
    expect(ds!.current?.value).toBe(datasourceUid);
    const used = dashboardQueries().flatMap(({ expr }) => [...expr.matchAll(/\$\{?([a-zA-Z_][a-zA-Z0-9_]*)/g)].map((m) => m[1]));
    const undefinedVars = [...new Set(used)].filter((v) => !v.startsWith('__') && !vars.has(v));
    expect(undefinedVars).toEqual([]);
  });
});

// --- provisioning and the compose file -------------------------------------------------------

/** The text of each top-level key's block of a YAML file, and each child block under it (two-space indent). */
function blocks(text: string, indent: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = new RegExp(`^${indent}([a-zA-Z0-9_.-]+):[^\\n]*\\n((?:${indent}[ \\t][^\\n]*\\n|[ \\t]*\\n)*)`, 'gm');
  for (const m of text.matchAll(re)) out.set(m[1], m[2]);
  return out;
}

describe('provisioning and docker-compose.yml', () => {
  const compose = read('docker-compose.yml');
  const services = blocks(blocks(compose, '').get('services') ?? '', '  ');
  const namedVolumes = new Set(blocks(blocks(compose, '').get('volumes') ?? '', '  ').keys());
  /** A service's volumes as [source, target]; bind mounts' sources start with `./`. */
  const mounts = (service: string) =>
    [...(blocks(services.get(service) ?? '', '    ').get('volumes') ?? '').matchAll(/^\s+-\s+"?([^:\s"]+):([^:\s"#]+)(?::(?:ro|rw))?"?\s*(?:#.*)?$/gm)]
      .map((m) => [m[1], m[2]] as const);
  /** The file in this checkout that `path` inside `service`'s container is, through its bind mounts. */
  const hostPath = (service: string, path: string): string | undefined => {
    const m = mounts(service).filter(([src, dst]) => src.startsWith('./') && (path === dst || path.startsWith(`${dst}/`)))
      .sort((a, b) => b[1].length - a[1].length)[0];
    return m && join(m[0].slice(2), path.slice(m[1].length));
  };
  const field = (text: string, key: string) => new RegExp(`^\\s*-?\\s*${key}:\\s*"?([^"\\s#]+)"?`, 'm').exec(text)?.[1];

  it('has prometheus and grafana services with images pinned to a version', () => {
    for (const s of ['prometheus', 'grafana']) {
      const image = field(services.get(s) ?? '', 'image');
      expect(image, s).toMatch(/^[a-z0-9./-]+:v?\d+\.\d+\.\d+$/);
    }
  });

  it('every bind mount of every service names a path of this checkout, every named volume is declared', () => {
    for (const s of services.keys()) {
      for (const [src] of mounts(s)) {
        if (src.startsWith('./')) expect(existsSync(join(ROOT, src)), `${s}: ${src}`).toBe(true);
        else expect(namedVolumes.has(src), `${s}: volume ${src}`).toBe(true);
      }
    }
    expect(mounts('prometheus').some(([src]) => src === './deploy/prometheus')).toBe(true);
  });

  it('Prometheus reads deploy/prometheus/prometheus.yml and scrapes tickplant\'s /metrics on its port', () => {
    const config = /--config\.file=([^\s",\]]+)/.exec(services.get('prometheus') ?? '')?.[1];
    expect(config).toBeDefined();
    expect(hostPath('prometheus', config!)).toBe(PROMETHEUS_FILE);
    const prom = read(PROMETHEUS_FILE);
    expect(field(prom, 'metrics_path')).toBe('/metrics');
    const target = /targets:\s*\[\s*"([^"]+)"\s*\]/.exec(prom)?.[1];
    const port = field(services.get('tickplant') ?? '', 'WEBSOCKET_PORT');
    expect(target).toBe(`tickplant:${port}`);
    // The read key for AUTH=all is a bearer credential read from a file beside the config.
    const keyFile = /credentials_file:\s*(\S+)/.exec(prom)?.[1];
    expect(keyFile && hostPath('prometheus', keyFile)).toBe('deploy/prometheus/tickplant-read-key');
    expect(read('deploy/prometheus/.gitignore')).toMatch(/^tickplant-read-key$/m);
  });

  it('Grafana gets the datasource and the dashboard provider, whose path holds the dashboard', () => {
    expect(hostPath('grafana', '/etc/grafana/provisioning/datasources/prometheus.yml')).toBe(DATASOURCES_FILE);
    expect(hostPath('grafana', '/etc/grafana/provisioning/dashboards/tickplant.yml')).toBe(PROVIDERS_FILE);
    const providerPath = field(read(PROVIDERS_FILE), 'path');
    const dir = hostPath('grafana', providerPath!);
    expect(dir && statSync(join(ROOT, dir)).isDirectory()).toBe(true);
    expect(join(dir!, 'tickplant.json')).toBe(DASHBOARD_FILE);
    const home = field(services.get('grafana') ?? '', 'GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH');
    expect(hostPath('grafana', home!)).toBe(DASHBOARD_FILE);
  });

  it('the datasource points at the prometheus service on the port it publishes', () => {
    const url = field(read(DATASOURCES_FILE), 'url');
    const u = new URL(url!);
    expect(services.has(u.hostname)).toBe(true);
    expect(services.get(u.hostname)).toMatch(new RegExp(`- "\\d+:${u.port}"`));
    expect(field(read(DATASOURCES_FILE), 'type')).toBe('prometheus');
  });
});
