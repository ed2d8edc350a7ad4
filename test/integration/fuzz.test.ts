// A short fuzzing run against the real process: ~2,000 WebSocket messages and ~500 HTTP requests; no crash, no 5xx, no gap.
//
// The same engine as `npm run fuzz`, with a fixed seed: a failure names the case (http#N with
// its request) and the same seed repeats it: `npm run fuzz -- --seed 1 --ws-messages 2000 --http-requests 500`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFuzz } from '../../fuzz/engine.js';
import { formatReport, type Report } from '../../fuzz/report.js';
import { fuzzEnv, fuzzJwtSecret, readAdminKey } from '../../fuzz/server.js';
import { freePort } from '../helpers/main-process.js';
import { type MainProcess, startMain } from '../helpers/main-process.js';

const SEED = 1;
const dataDir = mkdtempSync(join(tmpdir(), 'tickplant-fuzz-test-'));
let main: MainProcess;
let exit: { code: number | null; at: number } | undefined;
let report: Report;

beforeAll(async () => {
  const port = await freePort();
  main = startMain({ ...fuzzEnv(dataDir, port, SEED), LOG_LEVEL: 'warn' });
  void main.exited.then((code) => (exit = { code, at: Date.now() }));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300 && exit === undefined; i++) {
    if (await fetch(`${url}/health`).then((r) => r.status === 200, () => false)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  report = await runFuzz({
    url, seed: SEED, wsMessages: 2000, httpRequests: 500, apiKey: readAdminKey(dataDir), jwtSecret: fuzzJwtSecret(SEED), startedByFuzzer: true,
    died: () => exit && { reason: `the server process exited (code ${exit.code})`, at: exit.at },
  });
}, 60_000);

afterAll(async () => {
  if (exit === undefined) {
    main.child.kill('SIGTERM');
    await main.exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
});

describe('fuzzing the real server (short run)', () => {
  it('crashes nothing, answers no 5xx, stays healthy, and behaving clients see no gap', () => {
    const text = formatReport(report);
    expect(report.health.crashes, text).toBe(0);
    expect(report.http.fiveXxSamples, text).toEqual([]);
    expect(report.ws.tally.upgrade5xx, text).toEqual([]);
    expect(report.health.healthy, text).toBe(true);
    expect(report.watch.updates, text).toBeGreaterThan(0);
    expect(report.watch.gapSamples, text).toEqual([]);
    expect(report.failures, text).toEqual([]);
  });

  it('sends every case, and they reach the parsers', () => {
    const why = `run stopped early: ${report.failures.join('; ')}`;
    expect(report.ws.messages, why).toBe(2000);
    expect(report.http.requests, why).toBe(500);
    // Guards against a fuzzer that silently stopped fuzzing: bad input must have been answered as such.
    expect(report.ws.tally.errorCodes.invalid_json ?? 0).toBeGreaterThan(0);
    expect(report.ws.tally.errorCodes.invalid_message ?? 0).toBeGreaterThan(0);
    expect(report.http.statuses['400'] ?? 0).toBeGreaterThan(0);
  });

  it('stops cleanly afterwards', async () => {
    expect(exit, 'the server had already exited').toBeUndefined();
    main.child.kill('SIGTERM');
    expect(await main.exited).toBe(0);
  });
});
