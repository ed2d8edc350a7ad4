// Feed actor entry: started by the supervisor as a worker thread, one per exchange entry of FEEDS (never run directly).
// Reads its FeedInit from workerData, loads the exchange's connector, serves its control API, reports ready, then runs it.

import { parentPort, workerData } from 'node:worker_threads';
import { serve } from '../src/actors/control.js';
import { FeedActor } from '../src/actors/feed/feed.js';
import type { FeedInit, FeedLifecycle } from '../src/actors/feed/messages.js';
import type { Connector, ConnectorOptions } from '../src/feeds/connector.js';
import { configureLog, logger } from '../src/log.js';

const init = workerData as FeedInit;
configureLog(init.config.logLevel, init.config.logJson);

let actor: FeedActor;
try {
  const mod = (await import(init.module)) as Record<string, unknown>;
  const factory = mod[init.factory];
  if (typeof factory !== 'function') throw new Error(`${init.module} exports no function ${init.factory}`);
  const options: ConnectorOptions = {
    ...init.options,
    wsUrl: String(init.options.wsUrl),
    symbols: init.symbols.map((s) => s.native),
    depth: init.config.depth,
    log: logger(`feed-${init.exchange}`),
  };
  actor = new FeedActor(init, (factory as (o: ConnectorOptions) => Connector)(options));
} catch (e) {
  // A connector that cannot be loaded or refuses its options does not get better by restarting.
  parentPort!.postMessage({
    type: 'fatal', permanent: true,
    message: `the ${init.exchange} connector could not start (FEEDS): ${(e as Error)?.message ?? String(e)}`,
  } satisfies FeedLifecycle);
  process.exit(1);
}
serve(actor, init.control);
actor.start();
parentPort!.postMessage({ type: 'ready' } satisfies FeedLifecycle);
