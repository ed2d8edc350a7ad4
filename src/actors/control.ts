// Control plane: comlink RPC over MessagePorts (stats, routing, health). Never per-update.

import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import type { MessagePort } from 'node:worker_threads';

export type Remote<T> = Comlink.Remote<T>;

/** Serves `api` to whoever holds the other end of `port`. */
export function serve<T extends object>(api: T, port: MessagePort): void {
  Comlink.expose(api, nodeEndpoint(port as unknown as Parameters<typeof nodeEndpoint>[0]));
}

/** A typed proxy of the api served at the other end of `port`. */
export function connect<T>(port: MessagePort): Remote<T> {
  return Comlink.wrap<T>(nodeEndpoint(port as unknown as Parameters<typeof nodeEndpoint>[0]));
}

/** Releases a proxy so its port can close. */
export function disconnect(remote: Remote<unknown>): void {
  remote[Comlink.releaseProxy]();
}

/**
 * A control call that answers `fallback` when the actor at the other end cannot answer: after
 * `ms` (comlink leaves a call unresolved when that actor dies), or when the call fails (its
 * proxy was released by a restart). Shutdown, /stats and the rate sampler must go on regardless.
 */
export function within<T>(call: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  const answered = call.then(
    (v) => v,
    () => fallback, // the actor is gone or restarting: the caller's fallback says what that means
  );
  return Promise.race([answered, timeout]).finally(() => clearTimeout(timer));
}
