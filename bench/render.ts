// Renders bench/README.md's results section and its SVG charts from bench/results/<scenario>.json.
// Run: node --import tsx bench/render.ts   (npm run bench runs it after a full run)
//
// Reads every full-run result (not *.quick.json: quick runs are smoke tests) and, beside it, a
// `<scenario>.before.json` (the same scenario run on an earlier architecture, kept for
// comparison: its rows, ratios and curves are shown prefixed "before: …"), draws with
// vega-lite compiled to vega and rendered headless (View.toSVG, no canvas), writes
// bench/charts/<scenario>-<kind>.svg, and replaces what lies between the markers in
// bench/README.md. Text outside the markers is hand-written and kept as it is. A scenario that
// measures in phases (parameters.phases: name, figure-name suffix, label; e.g. api-load) gets
// one column per phase and run, one row per figure, instead of one row per system.

import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import type { Ratio, ScenarioResult, Series } from './lib/report.js';

// BENCH_DIR: render another directory laid out like bench/ (results/, charts/, README.md), e.g. to preview.
const BENCH = process.env.BENCH_DIR ? new URL(`file://${process.env.BENCH_DIR.replace(/\/?$/, '/')}`) : new URL('./', import.meta.url);
const RESULTS = new URL('results/', BENCH);
const CHARTS = new URL('charts/', BENCH);
const README = new URL('README.md', BENCH);
const START = '<!-- results:start -->';
const END = '<!-- results:end -->';
/** bench/run.ts's order (importing run.ts would run it); other scenarios follow alphabetically. */
const ORDER = ['fanout', 'latency', 'ingest', 'analytics', 'feeds', 'persist', 'redis', 'cache', 'snapshot', 'api-load', 'soak'];
/** What a scenario's `<scenario>.before.json` measured, as its rows are labelled. */
const BEFORE_LABELS: Record<string, string> = { 'api-load': 'before: cache on the front thread' };

/** A scenario's current result and, when kept, its before result; at least one of the two. */
interface Rendered {
  scenario: string;
  current?: ScenarioResult;
  before?: ScenarioResult;
}

function readResults(): Rendered[] {
  const by = new Map<string, Rendered>();
  for (const f of readdirSync(RESULTS)) {
    if (!f.endsWith('.json') || f.endsWith('.quick.json')) continue;
    const r = JSON.parse(readFileSync(new URL(f, RESULTS), 'utf8')) as Partial<ScenarioResult>;
    // Only ScenarioResult files (bench/lib/report.ts); older probes wrote other shapes.
    if (typeof r.scenario !== 'string' || !Array.isArray(r.systems) || r.quick) continue;
    const kind = f === `${r.scenario}.json` ? 'current' : f === `${r.scenario}.before.json` ? 'before' : null;
    if (!kind) continue;
    const entry = by.get(r.scenario) ?? { scenario: r.scenario };
    entry[kind] = r as ScenarioResult;
    by.set(r.scenario, entry);
  }
  const rank = (s: string) => (ORDER.includes(s) ? ORDER.indexOf(s) : ORDER.length);
  return [...by.values()].sort((a, b) => rank(a.scenario) - rank(b.scenario) || a.scenario.localeCompare(b.scenario));
}

async function svg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const seriesName = (s: Series) => (s.label && s.label !== s.system ? `${s.system}: ${s.label}` : s.system);
const rows = (list: Series[]) => list.flatMap((s) => s.points.map((p) => ({ series: seriesName(s), x: p.x, y: p.y })));

/** Percentiles on the classic "nines" axis: x = -log10(1 - p/100), labelled back as percentiles. */
function latencySpec(title: string, list: Series[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title, width: 560, height: 300, background: 'white',
    data: { values: rows(list).filter((r) => r.x < 100 && r.y > 0) },
    transform: [{ calculate: '-log(1 - datum.x / 100) / LN10', as: 'nines' }],
    mark: { type: 'line', point: true },
    encoding: {
      x: {
        field: 'nines', type: 'quantitative', title: 'percentile',
        axis: { values: [0, 1, 2, 3, 4], labelExpr: "format(100 - 100 / pow(10, datum.value), '.4~f') + '%'" },
        scale: { domain: [0, 4] },
      },
      y: { field: 'y', type: 'quantitative', title: 'latency (ms, log)', scale: { type: 'log' } },
      color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 2, labelLimit: 400 } },
    },
  };
}

function throughputSpec(title: string, list: Series[]): TopLevelSpec {
  const labels = [...new Set(list.map((s) => s.label))];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title, width: 560, height: 300, background: 'white',
    data: { values: rows(list) },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: 'seconds' },
      y: { field: 'y', type: 'quantitative', title: labels.length === 1 ? labels[0] : 'per second', axis: { format: '~s' } },
      color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 2, labelLimit: 400 } },
    },
  };
}

const num = (v: number | undefined): string => {
  if (v === undefined || !Number.isFinite(v)) return '—';
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  return String(Math.round(v * 1000) / 1000);
};
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** A phase of a phased scenario, as its parameters.phases lists it (without a name, its label is its name). */
interface PhaseSpec {
  name: string;
  suffix: string;
  label: string;
}

function phasesOf(r: ScenarioResult | undefined): PhaseSpec[] | undefined {
  const p = r?.parameters.phases;
  if (!Array.isArray(p) || p.length === 0) return undefined;
  const ok = p.every((x: Partial<PhaseSpec>) => typeof x?.suffix === 'string' && typeof x.label === 'string');
  return ok ? (p as PhaseSpec[]).map((x) => ({ ...x, name: typeof x.name === 'string' ? x.name : x.label })) : undefined;
}

/**
 * A phased scenario's figures: a column per (run, system, phase), a row per figure name without
 * its phase suffix; figures of no phase (no suffix matches) are listed under the table.
 * `head`: the run's word in its columns' headings ('' for the current run, 'before').
 */
function phasedTable(scenario: string, runs: { head: string; label: string; r: ScenarioResult }[]): string[] {
  const cols: { head: string; figures: Record<string, number> }[] = [];
  const rowsOrder: string[] = [];
  const unphased: string[] = [];
  for (const { head, label, r } of runs) {
    const phases = phasesOf(r)!;
    // Longest suffix first, so that one suffix ending another never takes its figures.
    const bySuffix = [...phases].sort((x, y) => y.suffix.length - x.suffix.length);
    for (const s of r.systems) {
      const who = [head, r.systems.length > 1 ? s.system : ''].filter(Boolean).join(' ');
      const per = new Map(phases.map((ph) => [ph.suffix, {} as Record<string, number>]));
      for (const [k, v] of Object.entries(s.figures)) {
        const ph = bySuffix.find((x) => k.endsWith(x.suffix) && k.length > x.suffix.length);
        if (!ph) {
          unphased.push(`${[label, s.system].filter(Boolean).join(': ')}: ${k} ${num(v)}`);
          continue;
        }
        const base = k.slice(0, -ph.suffix.length);
        if (!rowsOrder.includes(base)) rowsOrder.push(base);
        per.get(ph.suffix)![base] = v;
      }
      for (const ph of phases) cols.push({ head: who ? `${who} ${ph.name}` : ph.name, figures: per.get(ph.suffix)! });
    }
  }
  const out = [`| figure | ${cols.map((c) => cell(c.head)).join(' | ')} |`, `| --- | ${cols.map(() => '---:').join(' | ')} |`];
  for (const row of rowsOrder) out.push(`| ${row} | ${cols.map((c) => num(c.figures[row])).join(' | ')} |`);
  out.push('');
  const legend = new Map<string, string>();
  for (const { r } of runs) for (const ph of phasesOf(r)!) legend.set(ph.name, ph.label);
  const others = runs.filter((x) => x.head).map((x) => `"${x.head} …": ${x.label} (bench/results/${scenario}.${x.head}.json)`);
  out.push(`Phases: ${[...legend.values()].join('; ')}.${others.length > 0 ? ` Columns ${others.join('; ')}.` : ''}`, '');
  if (unphased.length > 0) out.push(...unphased.map((u) => `- ${u}`), '');
  return out;
}

/** The figures in the order the scenario wrote them, each `xPerServerCpuSecond` right after its `xPerSecond`. */
function columns(r: ScenarioResult): string[] {
  const all = [...new Set(r.systems.flatMap((s) => Object.keys(s.figures)))];
  const out: string[] = [];
  for (const c of all) {
    if (out.includes(c)) continue;
    out.push(c);
    const m = /^(.*)PerSecond(.*)$/.exec(c);
    const perCpu = m ? `${m[1]}PerServerCpuSecond${m[2]}` : '';
    if (perCpu && all.includes(perCpu) && !out.includes(perCpu)) out.push(perCpu);
  }
  return out;
}

/** A ratio whose figure is better when smaller (e.g. latency under load ÷ without), its target an upper bound. */
const lowerIsBetter = (q: Ratio) => (q as Ratio & { lowerIsBetter?: boolean }).lowerIsBetter === true;

function subLine(r: ScenarioResult, how: string): string {
  const m = r.machine;
  const v = r.versions;
  return `<sub>${how}, ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC, ${Math.round(r.durationS)} s; ` +
    `${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.platform}, load ${m.loadAverageAtStart.join(' ')} at start; ` +
    `${Object.entries(v).filter(([, x]) => x !== 'absent').map(([k, x]) => `${k} ${x}`).join(', ')}; ` +
    `parameters: \`${JSON.stringify(r.parameters)}\`</sub>`;
}

async function section({ scenario, current, before }: Rendered): Promise<string> {
  // Without a current run the before result is shown alone, under its label.
  const r: ScenarioResult = current ?? { ...before!, systems: [], ratios: [], series: [], targets: [], notes: [], generator: undefined };
  const label = BEFORE_LABELS[scenario] ?? 'before';
  const beforeSystems = (before?.systems ?? []).map((s) => ({ ...s, system: before!.systems.length === 1 ? label : `${label}: ${s.system}` }));
  const systems = [...r.systems, ...beforeSystems];
  const ratios = [...r.ratios, ...(before?.ratios ?? []).map((q) => ({ ...q, figure: `${label}: ${q.figure}` }))];
  const out: string[] = [`### ${scenario}`, ''];
  if (phasesOf(current ?? before) && (!before || phasesOf(before)) && (!current || phasesOf(current))) {
    out.push(...phasedTable(scenario, [
      ...(current ? [{ head: '', label: '', r: current }] : []),
      ...(before ? [{ head: 'before', label, r: before }] : []),
    ]));
  } else {
    const cols = columns({ ...r, systems });
    out.push(`| system | ${cols.join(' | ')} |`, `| --- | ${cols.map(() => '---:').join(' | ')} |`);
    for (const s of systems) out.push(`| ${cell(s.system)} | ${cols.map((c) => num(s.figures[c])).join(' | ')} |`);
    out.push('');
  }
  const sysNotes = systems.filter((s) => s.notes);
  if (sysNotes.length > 0) {
    for (const s of sysNotes) out.push(`- *${cell(s.system)}*: ${s.notes}`);
    out.push('');
  }
  if (ratios.length > 0) {
    const head = ratios.every(lowerIsBetter) ? 'ratio (lower is better)' : 'ratio (tickplant ÷ baseline)';
    out.push(`| ${head} | value | target |`, '| --- | ---: | --- |');
    for (const q of ratios) {
      const target = q.target === undefined ? '' : `${lowerIsBetter(q) ? '≤' : '≥'} ${q.target}x: **${q.met ? 'met' : 'missed'}**`;
      out.push(`| ${cell(q.figure)} vs ${cell(q.against)} | ${q.value}x | ${target} |`);
    }
    out.push('');
  }
  if (r.targets.length > 0) {
    out.push('Targets:', '');
    for (const t of r.targets) {
      const measured = typeof t.measured === 'number' ? num(t.measured) : t.measured;
      out.push(`- ${t.figure} ${t.target}: ${measured} — **${t.met ? 'met' : 'missed'}**${t.met || !t.bound ? '' : `; bound: ${t.bound}`}`);
    }
    out.push('');
  }
  if (r.generator) out.push(`Load generator: ${num(r.generator.cpuSeconds)} CPU-s (${Math.round(r.generator.cpuShare * 100)}% of the run's CPU).`, '');
  for (const n of r.notes) out.push(`- ${n}`);
  // The before run's own notes, where they differ from the current run's (its tree, its pairs).
  const beforeNotes = (before?.notes ?? []).filter((n) => !r.notes.includes(n));
  for (const n of beforeNotes) out.push(`- *${label}*: ${n}`);
  if (r.notes.length + beforeNotes.length > 0) out.push('');

  mkdirSync(CHARTS, { recursive: true });
  const charts: string[] = [];
  const beforeSeries = (before?.series ?? []).map((s) => ({ ...s, system: before!.systems.length === 1 ? label : `${label}: ${s.system}` }));
  const latency = [...r.series, ...beforeSeries].filter((s) => s.kind === 'latency-percentiles');
  if (latency.length > 0) {
    writeFileSync(new URL(`${r.scenario}-latency.svg`, CHARTS), await svg(latencySpec(`${r.scenario}: latency by percentile`, latency)));
    charts.push(`![${r.scenario} latency percentiles](charts/${r.scenario}-latency.svg)`);
  }
  const throughput = [...r.series, ...beforeSeries].filter((s) => s.kind === 'throughput-over-time');
  if (throughput.length > 0) {
    writeFileSync(new URL(`${r.scenario}-throughput.svg`, CHARTS), await svg(throughputSpec(`${r.scenario}: throughput over time`, throughput)));
    charts.push(`![${r.scenario} throughput over time](charts/${r.scenario}-throughput.svg)`);
  }
  if (charts.length > 0) out.push(charts.join('\n'), '');

  if (current) out.push(subLine(current, `\`npm run bench -- ${scenario}\``), '');
  if (before) out.push(subLine(before, `${label}: \`node --import tsx bench/scenarios/${scenario}.ts\` in a checkout of that tree (bench/results/${scenario}.before.json)`), '');
  return out.join('\n');
}

const INTRO = `# tickplant benchmarks

Each scenario asks one question of tickplant and answers it against what a user would pick
instead, measured in the same run on the same machine. Every throughput figure is given
twice: per second, and per CPU-second of the server process, because the load generator shares
this 2-core machine.

\`\`\`sh
npm run bench                      # every scenario, then the tables and charts below (minutes)
npm run bench -- persist --quick   # one scenario, small: a smoke test of the harness, not of the targets
\`\`\`

| scenario | measures | against |
| --- | --- | --- |
| fanout | deliveries per server CPU-second, 1,000 and 10,000 connections | bare uWS publish, \`ws\` stringify per client, \`ws\` serialize once, socket.io rooms |
| latency | feed-to-client p50/p99/p99.9 at half the sustainable rate | the same baselines |
| ingest | updates/s through feed, shards, metrics, rings, encode and publish (no clients), 1 and 2 shards | the same per-update work behind one \`postMessage\` each way (\`baselines/postmessage-path.ts\`) |
| analytics | updates and trades/s the shard accepts with candles, tickers and 1,000,000 active price alerts (1 shard, a trade after half the books); CPU per update at 8,000 updates/s with full persistence; trade → \`alert\` frame p50/p99; GET /indicators p50/p99 | the same server with \`ANALYTICS=false\` (books and trades only) |
| feeds | Binance diff-depth events applied per CPU-second of the feed's process (tickplant's connector writing each book into an SPSC input queue), from a local exchange sending as fast as it is read; wire bytes per message, RSS | a \`ws\` client + \`JSON.parse\` + a \`Map\` per book side, nothing else (\`baselines/ws-map-book.ts\`: the floor) |
| persist | rows/s committed to PostgreSQL, 10-level JSONB books, while streaming | one INSERT per row, 1,000-row INSERTs, \`psql \\copy\` of the same rows (the floor) |
| redis | commands/s of the writer's pipelines (SET/LPUSH/LTRIM/EXPIRE + PUBLISH per frame) | one awaited command at a time, ioredis auto-pipelining, \`redis-benchmark -P 32\` (the floor) |
| snapshot | time to send today's history to a new subscriber; others' p99 meanwhile | the same without the snapshot |
| api-load | WebSocket p50/p99/p99.9 while 8 HTTP clients GET a cached price, and while 8 POST ~200 KB JSON values | the same stream without the API load |
| soak | 10 minutes at 20,000 updates/s, 1,000 clients, full persistence | itself: losses, gaps, memory growth |

Results are in \`bench/results/<scenario>.json\` (every figure, machine, versions, parameters); the
section below is generated from them by \`bench/render.ts\` — edit outside the markers only.

## Results

${START}
${END}
`;

const results = readResults();
if (!existsSync(README)) writeFileSync(README, INTRO);
const readme = readFileSync(README, 'utf8');
const a = readme.indexOf(START);
const b = readme.indexOf(END);
if (a < 0 || b < a) throw new Error(`bench/README.md: markers ${START} … ${END} not found; put them where the results belong`);
const body = results.length > 0
  ? (await Promise.all(results.map(section))).join('\n')
  : '_No full-run results yet: run `npm run bench`._\n';
writeFileSync(README, `${readme.slice(0, a + START.length)}\n\n${body}\n${readme.slice(b)}`);
process.stdout.write(`bench/README.md: ${results.length} scenario(s) rendered${results.length > 0 ? ` (${results.map((r) => r.scenario).join(', ')})` : ''}\n`);
