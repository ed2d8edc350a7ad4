// tickplant main job. Run: `npm start` (builds, then `node dist/src/main.js`); `--check-config` validates and prints the configuration.
//
// With no environment: simulator feed, 20 symbols, port 8000. SIGINT/SIGTERM stop it gracefully.

import { type Config, loadConfig } from './config.js';
import { TickplantError } from './errors.js';
import { configureLog, logger, redactUrl } from './log.js';
import { Supervisor } from './actors/supervisor/supervisor.js';
import { adminKeyBanner } from './auth/admin-key.js';

const log = logger('main');

function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (e) {
    // One line naming the option: the operator's next step is obvious from it.
    process.stderr.write(`tickplant: ${(e as Error).message}\n`);
    process.exit(1);
  }
}

async function main(): Promise<void> {
  const cfg = configOrExit();
  configureLog(cfg.logLevel, cfg.logJson);
  if (process.argv.includes('--check-config')) {
    // Secrets never reach the output: the password, and a password inside a URL.
    const shown = (k: string, v: unknown) => ((k === 'redisPassword' || k === 'jwtSecret') && v ? '***' : (k === 'databaseUrl' || k === 'redisUrl') && typeof v === 'string' ? redactUrl(v) : v);
    process.stdout.write(JSON.stringify(cfg, shown, 2) + '\n');
    return;
  }
  const sup = new Supervisor(cfg);
  let exiting = false;
  const shutdown = (code: number, why: string) => {
    if (exiting) return;
    exiting = true;
    log.info(`${why}: stopping`);
    // Longer than the supervisor's own stage limits add up to (drains 5+5+10 s, closes 5+5 s):
    // only a stop that is truly stuck is cut.
    const force = setTimeout(() => {
      log.error('graceful stop took longer than 45 s; exiting');
      process.exit(1);
    }, 45_000);
    force.unref();
    sup.stop().then(
      (r) => {
        const rows = cfg.persist ? `, ${r.committed} rows committed, ${r.journaled} journaled for the next start` : '';
        log.info(`stopped: ${r.accepted} updates accepted${rows}`);
        process.exit(code);
      },
      (e: unknown) => {
        log.error('stop failed', { error: String(e) });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown(0, 'SIGINT'));
  process.on('SIGTERM', () => shutdown(0, 'SIGTERM'));
  sup.on('fatal', (e: Error) => shutdown(1, e.message));

  try {
    await sup.start();
  } catch (e) {
    // One line: the cause and what to change. Known causes are TickplantErrors that say so; any
    // other error is a bug, and its stack is what a report needs.
    exiting = true;
    // (start() has stopped whatever it had started.)
    log.error(e instanceof TickplantError ? e.message : e instanceof Error ? `start-up failed: ${e.stack ?? e.message}` : `start-up failed: ${String(e)}`);
    process.exit(1);
  }
  log.info(`tickplant listening on http://${cfg.host}:${sup.port} (ws: /ws) — ${cfg.shards} shard(s), feed: ${sup.describeFeeds()}`);
  if (!cfg.redisUrl) log.info('REDIS_URL not set: Redis tier off (memory only)');
  // Straight to stdout, never the logger: log lines are kept and shipped, the key must not be.
  const admin = sup.takeAdminKey();
  if (admin) process.stdout.write(adminKeyBanner(admin) + '\n');
}

void main();
