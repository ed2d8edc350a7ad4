// Where an actor's entry file is, and how to start it from compiled JS (dist/) or from source (tsx).

import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

const fromSource = import.meta.url.endsWith('.ts');

/** URL of `workers/<name>`: .ts beside the sources, .js in dist/. */
export function workerEntry(name: string): { url: URL; execArgv: string[] } {
  const url = new URL(`../../workers/${name}${fromSource ? '.ts' : '.js'}`, import.meta.url);
  // Piscina imports its task file dynamically, which the tsx loader hook does cover.
  return { url, execArgv: fromSource ? ['--import', 'tsx'] : [] };
}

/**
 * Starts a worker thread on `url`. A .ts entry is loaded through tsx's API: on Node 20 a
 * worker's `--import tsx` does not apply to the worker's own entry file.
 */
export function spawnWorker(url: URL, options: WorkerOptions): Worker {
  if (!url.pathname.endsWith('.ts')) return new Worker(url, options);
  // The ESM build of tsx's API (require.resolve would pick its CommonJS build).
  const tsxPackage = createRequire(import.meta.url).resolve('tsx/package.json');
  const tsx = pathToFileURL(tsxPackage.replace(/package\.json$/, 'dist/esm/api/index.mjs')).href;
  const boot = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(boot, { ...options, eval: true });
}
