// Cache actor entry: started by the supervisor as a worker thread (never run directly).
// Reads its CacheInit from workerData, serves its control API, reports ready, connects in the background.

import { parentPort, workerData } from 'node:worker_threads';
import { CacheActor } from '../src/actors/cache/cache.js';
import type { CacheInit, CacheLifecycle } from '../src/actors/cache/messages.js';
import { serve } from '../src/actors/control.js';
import { configureLog } from '../src/log.js';

const init = workerData as CacheInit;
configureLog(init.config.logLevel, init.config.logJson);
const actor = new CacheActor(init);
serve(actor, init.control);
actor.start();
parentPort!.postMessage({ type: 'ready' } satisfies CacheLifecycle);
