// Shard actor entry: started by the supervisor as a worker thread (never run directly).
// Reads its ShardInit from workerData, serves its control API, reports ready, then runs.

import { parentPort, workerData } from 'node:worker_threads';
import { serve } from '../src/actors/control.js';
import { ShardActor } from '../src/actors/shard/shard.js';
import type { ShardInit, ShardLifecycle } from '../src/actors/shard/messages.js';
import { configureLog } from '../src/log.js';

const init = workerData as ShardInit;
configureLog(init.config.logLevel, init.config.logJson);
const actor = new ShardActor(init);
serve(actor, init.control);
parentPort!.postMessage({ type: 'ready' } satisfies ShardLifecycle);
actor.run().catch((e: unknown) => {
  parentPort!.postMessage({ type: 'fatal', message: String((e as Error)?.stack ?? e) } satisfies ShardLifecycle);
  process.exit(1);
});
