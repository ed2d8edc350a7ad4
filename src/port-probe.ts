// Whether a TCP port can be listened on right now: start-up checks it before doing anything slow.
//
// The listen that matters happens later (uWS, PostgreSQL); this probe only turns the common
// failure (a port taken by another process) into one precise line within milliseconds, instead
// of a database started for nothing and an error without its cause.

import { createServer } from 'node:net';

/** undefined when free; otherwise why not, as an errno name (EADDRINUSE, EACCES, EADDRNOTAVAIL, …). */
export function probePort(host: string, port: number): Promise<string | undefined> {
  if (port === 0) return Promise.resolve(undefined); // any free port: nothing to check
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    // Node sets no SO_REUSEPORT, so a port held by a reuse-port listener (uWS's default) is taken
    // for us too; `exclusive` keeps a cluster primary from lending us its handle.
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(undefined)));
  });
}

/** A sentence for a probe's errno, naming the address. */
export function portProblem(code: string, host: string, port: number): string {
  switch (code) {
    case 'EADDRINUSE':
      return `port ${port} on ${host} is taken by another process`;
    case 'EACCES':
      return `port ${port} on ${host} needs privileges this process lacks`;
    case 'EADDRNOTAVAIL':
      return `address ${host} is not an address of this machine`;
    default:
      return `cannot listen on ${host}:${port} (${code})`;
  }
}
