// Front actor entry: started by the supervisor as a worker thread (never run directly).
// Reads its FrontInit from workerData, listens, serves its control API, reports ready with its port.

import { parentPort, workerData } from 'node:worker_threads';
import { connect, serve } from '../src/actors/control.js';
import { FrontActor } from '../src/actors/front/front.js';
import type { FrontInit, FrontLifecycle } from '../src/actors/front/messages.js';
import type { SupervisorApi } from '../src/actors/supervisor/messages.js';
import { StartupError } from '../src/errors.js';
import { configureLog } from '../src/log.js';

const init = workerData as FrontInit;
configureLog(init.config.logLevel, init.config.logJson);
const actor = new FrontActor(init, connect<SupervisorApi>(init.supervisor));
actor.start().then(
  (port) => {
    serve(actor, init.control);
    parentPort!.postMessage({ type: 'ready', port } satisfies FrontLifecycle);
  },
  (e: unknown) => {
    parentPort!.postMessage({ type: 'fatal', message: (e as Error)?.message ?? String(e), permanent: e instanceof StartupError } satisfies FrontLifecycle);
    void actor.close().finally(() => process.exit(1));
  },
);
