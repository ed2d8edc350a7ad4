// The fuzz report: one object (written with --json), its verdict, and its text for the terminal.
import type { HealthResult } from './health.js';
import type { HttpFuzzResult } from './http-fuzz.js';
import type { Suspect } from './recent.js';
import type { WatchResult } from './watch.js';
import type { WsFuzzResult } from './ws-fuzz.js';

export interface Report {
  seed: number;
  target: string;
  startedByFuzzer: boolean;
  /** Real credentials used on a share of cases: 'API key', 'signed JWTs', or 'none'. */
  credentials: string;
  wallS: number;
  ws: WsFuzzResult;
  http: HttpFuzzResult;
  health: HealthResult;
  watch: WatchResult;
  /** Cases sent in the seconds before a crash was seen, oldest first (empty without a crash). */
  suspects: Suspect[];
  /** Lines the server logged at error level (only when the fuzzer started it). */
  serverErrors: string[];
  /** How the server stopped when the fuzzer stopped it. */
  serverStop?: { code: number | null; signal: string | null; ms: number };
  failures: string[];
}

/** Every reason the run fails; empty: it passed. */
export function verdict(r: Omit<Report, 'failures'>): string[] {
  const f: string[] = [];
  if (r.health.crashes > 0) f.push(`${r.health.crashes} crash(es): ${r.health.died ?? `${r.health.restartsAfter - r.health.restartsBefore} actor restart(s)${r.health.uptimeWentBack ? ', process restarted' : ''}`}`);
  const fiveXx = r.http.fiveXx + r.ws.tally.upgrade5xx.length;
  if (fiveXx > 0) f.push(`${fiveXx} HTTP 5xx answer(s)`);
  const internal = r.ws.tally.errorCodes.internal ?? 0;
  if (internal > 0) f.push(`${internal} WebSocket error frame(s) with code "internal" (a server failure, like a 500)`);
  if (!r.health.healthy) f.push(`unhealthy: final /health ${r.health.final.status}, ${r.health.non200} non-200 and ${r.health.unanswered} unanswered poll(s) of ${r.health.polls}`);
  if (r.watch.gaps > 0) f.push(`${r.watch.gaps} gap(s) seen by behaving clients`);
  if (r.watch.clients > 0 && r.watch.updates === 0) f.push('behaving clients received no update at all');
  if (r.watch.stalled.length > 0) f.push(`behaving clients stalled: ${r.watch.stalled.slice(0, 3).join('; ')}`);
  if (r.serverStop && r.serverStop.code !== 0) f.push(`the server did not stop cleanly (exit ${r.serverStop.code ?? r.serverStop.signal})`);
  return f;
}

const n = (x: number) => x.toLocaleString('en-US');
const counts = (o: Record<string, number>, max = 12) => {
  const e = Object.entries(o).sort((a, b) => b[1] - a[1]);
  const shown = e.slice(0, max).map(([k, v]) => `${k} ${n(v)}`).join(', ');
  return e.length === 0 ? '—' : e.length > max ? `${shown}, … (${e.length - max} more)` : shown;
};

export function formatReport(r: Report): string {
  const L: string[] = [];
  L.push(`tickplant fuzz — seed ${r.seed} (repeat: --seed ${r.seed}), target ${r.target}${r.startedByFuzzer ? ' (started by the fuzzer)' : ''}; real credentials: ${r.credentials}`);
  L.push('');
  L.push(`sent        ${n(r.ws.messages)} WebSocket messages on ${n(r.ws.connections)} connections (${n(r.ws.upgraded)} upgraded); ${n(r.http.requests)} HTTP requests (${n(r.http.viaFetch)} fetch, ${n(r.http.viaRaw)} raw)`);
  L.push(`ws cases    ${counts(r.ws.labels, 8)}`);
  L.push(`ws answers  errors: ${counts(r.ws.tally.errorCodes)}`);
  L.push(`            server closes: ${counts(r.ws.tally.closeCodes)}; echoes of ours ${n(r.ws.tally.closeEchoes)}; cut without close ${n(r.ws.tally.cutWithoutClose)}; upgrade refused: ${counts(r.ws.tally.upgradeRefusals)}`);
  L.push(`            rate-limited (expected): ${n(r.ws.rateLimited.upgrade429)} upgrades 429, ${n(r.ws.rateLimited.close4429)} closes 4429; ${n(r.ws.tally.framesIn)} frames received`);
  L.push(`http        statuses: ${counts(r.http.statuses, 16)}; raw requests closed unanswered ${n(r.http.noAnswer)}; transport errors ${n(r.http.transportErrors)}`);
  L.push('');
  L.push(`crashes     ${r.health.crashes} (actor restarts ${r.health.restartsBefore} → ${r.health.restartsAfter}${r.health.died ? `; ${r.health.died}` : ''}${r.health.uptimeWentBack ? '; uptime went back' : ''})`);
  if (r.suspects.length > 0) {
    L.push(`  cases sent just before (oldest first; send one alone with --seed ${r.seed} --case ws:N or --case http:N):`);
    // The last ones are the likeliest; the JSON report has them all.
    for (const s of r.suspects.slice(-15)) L.push(`    -${s.beforeMs} ms ${s.what.slice(0, 500)}`);
  }
  L.push(`HTTP 5xx    ${r.http.fiveXx + r.ws.tally.upgrade5xx.length}`);
  for (const s of r.http.fiveXxSamples) L.push(`  ${s.count} × ${s.status} on "${s.label}"; first: case http#${s.case} (--case http:${s.case})\n    request:  ${s.request}\n    response: ${JSON.stringify(s.response)}`);
  for (const s of r.ws.tally.upgrade5xx) L.push(`  upgrade → ${s.status}\n    request:  ${s.request}\n    response: ${JSON.stringify(s.body)}`);
  L.push(`health      ${r.health.healthy ? 'healthy' : 'UNHEALTHY'}: final /health ${r.health.final.status}; ${r.health.polls} polls during the run, ${r.health.non200} non-200, ${r.health.unanswered} unanswered, slowest ${Math.round(r.health.slowestMs)} ms`);
  for (const s of r.health.samples) L.push(`  ${s}`);
  const w = r.watch;
  L.push(`behaving    ${w.clients} clients, ${w.subscriptions} subscriptions: ${n(w.updates)} updates, ${w.snapshots} snapshots, resyncs ${counts(w.resyncs)}, ${w.disconnects} disconnects, errors ${counts(w.errors)} — ${w.gaps} gaps`);
  for (const g of [...w.gapSamples, ...w.stalled]) L.push(`  ${g}`);
  if (r.serverErrors.length > 0) {
    L.push(`server log  ${r.serverErrors.length} error line(s); first:`);
    for (const e of r.serverErrors.slice(0, 3)) L.push(`  ${e.slice(0, 600)}`);
  }
  if (r.serverStop) L.push(`stop        exit ${r.serverStop.code ?? r.serverStop.signal} after ${r.serverStop.ms} ms`);
  L.push('');
  L.push(`wall time   ${r.wallS.toFixed(1)} s`);
  L.push(r.failures.length === 0 ? 'result      PASS' : `result      FAIL: ${r.failures.join('; ')}`);
  return L.join('\n');
}
