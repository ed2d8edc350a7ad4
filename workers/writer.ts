// Writer actor entry: started by the supervisor as a worker thread (never run directly).
// Reads its WriterInit from workerData, opens journal and database, serves its control API, reports ready.

import { parentPort, workerData } from 'node:worker_threads';
import { serve } from '../src/actors/control.js';
import type { WriterInit, WriterLifecycle } from '../src/actors/writer/messages.js';
import { WriterActor } from '../src/actors/writer/writer.js';
import { StartupError } from '../src/errors.js';
import { configureLog } from '../src/log.js';

const init = workerData as WriterInit;
configureLog(init.config.logLevel, init.config.logJson);
const actor = new WriterActor(init);
actor.start().then(
  (r) => {
    serve(actor, init.control);
    parentPort!.postMessage({ type: 'ready', ...r } satisfies WriterLifecycle);
  },
  (e: unknown) => {
    parentPort!.postMessage({ type: 'fatal', message: e instanceof StartupError ? e.message : (e as Error)?.stack ?? String(e), permanent: e instanceof StartupError } satisfies WriterLifecycle);
    process.exit(1);
  },
);
