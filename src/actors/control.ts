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
 * A control call that gives up after `ms`: comlink leaves a call unresolved when the actor at
 * the other end dies (releasing the proxy rejects nothing), and shutdown or /stats must not hang.
 */
export function within<T>(call: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  return Promise.race([call, timeout]).finally(() => clearTimeout(timer));
}
