// Fuzzes a real tickplant over WebSocket and HTTP. Run: `npm run fuzz [-- --url http://host:port] [--seed S] [--json out.json]`.
//
// Without --url it builds and starts tickplant itself (PERSIST=false, temp DATA_DIR, a free
// port) and stops it at the end. Exit code 1 on any crash, HTTP 5xx, unhealthy server or gap
// seen by a behaving client; 2 on bad arguments.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type FuzzOptions, runFuzz } from './engine.js';
import { FuzzSetupError } from './errors.js';
import { formatReport, verdict } from './report.js';
import { randomSeed } from './rng.js';
import { type StartedServer, startTickplant } from './server.js';

const USAGE = `usage: npm run fuzz -- [options]
  --url http://host:port    fuzz a running tickplant (default: start one, stop it at the end)
  --ws-messages N           WebSocket messages to send (default 100000)
  --http-requests N         HTTP requests to send (default 20000)
  --seed S                  reproducible run (default: random, printed)
  --json FILE               also write the report as JSON
  --api-key KEY             send this key on a share of requests (default: DATA_DIR/admin-key of a server the fuzzer started)
  --jwt-secret S            the server's JWT_SECRET: sign a share of tokens with it (default: the one the fuzzer set)
  --ws-concurrency N        fuzzing WebSocket connections at once (default 32)
  --ws-rate N               messages per second per fuzzing connection (default 40)
  --http-concurrency N      HTTP requests at once (default 12)
  --ws-max-message-bytes N  the server's WS_MAX_MESSAGE_BYTES (default 4096)
  --http-max-body-bytes N   the server's HTTP_MAX_BODY_BYTES (default 1048576)
  --no-jwt                  start the server without JWT_SECRET (no signed tokens; the fuzzer sets one by default)
  --case ws:N|http:N        send only that case (repeatable; with the run's --seed): reproduces a finding
  --no-build                start dist/src/main.js as built`;

function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        url: { type: 'string' }, 'ws-messages': { type: 'string' }, 'http-requests': { type: 'string' }, seed: { type: 'string' },
        json: { type: 'string' }, 'api-key': { type: 'string' }, 'jwt-secret': { type: 'string' }, 'ws-concurrency': { type: 'string' }, 'ws-rate': { type: 'string' },
        'http-concurrency': { type: 'string' }, 'ws-max-message-bytes': { type: 'string' }, 'http-max-body-bytes': { type: 'string' },
        case: { type: 'string', multiple: true }, 'no-build': { type: 'boolean' }, 'no-jwt': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return Promise.resolve(2);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return Promise.resolve(0);
  }
  const int = (name: keyof typeof values, dflt: number, min = 0): number => {
    const raw = values[name];
    if (raw === undefined) return dflt;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new RangeError(`--${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
    return n;
  };
  let opts;
  try {
    let only: FuzzOptions['only'];
    for (const c of values.case ?? []) {
      const m = /^(ws|http):(\d+)$/.exec(c);
      if (!m) throw new RangeError(`--case must be ws:N or http:N, got ${JSON.stringify(c)}`);
      only ??= { ws: [], http: [] };
      only[m[1] as 'ws' | 'http'].push(Number(m[2]));
    }
    opts = {
      only,
      wsMessages: int('ws-messages', 100_000), httpRequests: int('http-requests', 20_000), seed: int('seed', randomSeed()),
      wsConcurrency: int('ws-concurrency', 32, 1), wsRatePerS: int('ws-rate', 40, 1), httpConcurrency: int('http-concurrency', 12, 1),
      wsMaxMessageBytes: int('ws-max-message-bytes', 4096, 64), httpMaxBodyBytes: int('http-max-body-bytes', 1 << 20, 1),
    };
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return Promise.resolve(2);
  }
  return fuzz(opts, values.url, { apiKey: values['api-key'], jwtSecret: values['jwt-secret'], noJwt: values['no-jwt'] ?? false }, values.json, !values['no-build']);
}

async function fuzz(opts: Omit<FuzzOptions, 'url'>, url: string | undefined, creds: { apiKey?: string; jwtSecret?: string; noJwt: boolean }, jsonFile: string | undefined, build: boolean): Promise<number> {
  const log = (line: string) => process.stderr.write(`fuzz: ${line}\n`);
  log(`seed ${opts.seed}`);
  let server: StartedServer | undefined;
  if (!url) server = await startTickplant({ seed: opts.seed, build, log, env: creds.noJwt ? { JWT_SECRET: '' } : {} });
  let report;
  try {
    report = await runFuzz({
      ...opts, url: url ?? server!.url, apiKey: creds.apiKey ?? server?.apiKey, jwtSecret: creds.jwtSecret ?? server?.jwtSecret,
      startedByFuzzer: server !== undefined, died: server?.died, crashLoggedAt: server?.crashLoggedAt, log,
    });
  } finally {
    if (server) {
      const stop = await server.stop();
      if (report) {
        report.serverStop = stop;
        report.serverErrors = server.errorLines();
      }
      if (report && report.health.crashes > 0) log(`server output (tail):\n${server.tail()}`);
    }
  }
  report.failures = verdict(report);
  process.stdout.write(`${formatReport(report)}\n`);
  if (jsonFile) writeFileSync(jsonFile, JSON.stringify(report, null, 2) + '\n');
  return report.failures.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    // A setup problem is the operator's to fix: one line. Anything else is a fuzzer bug: its stack.
    process.stderr.write(`fuzz: ${e instanceof FuzzSetupError ? e.message : e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exit(2);
  },
);
