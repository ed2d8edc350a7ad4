// A TCP proxy for outage tests: forwards 127.0.0.1:<port> to 127.0.0.1:<targetPort> until cut().
//
//   const proxy = await startProxy(6379);   // connect the client to proxy.port
//   proxy.cut();                            // destroys every connection, refuses new ones
//   await proxy.restore();                  // accepts again on the same port
//   await proxy.close();
//
// Generic (Redis, PostgreSQL, anything over TCP). "Cut" means the client sees ECONNRESET /
// ECONNREFUSED, as when the service dies; it does not simulate a hang.

import * as net from 'node:net';

export interface TcpProxy {
  /** The port clients connect to (fixed for the proxy's life, across cut/restore). */
  readonly port: number;
  /** Connections currently open through the proxy. */
  readonly connections: number;
  /** Destroys all sockets (both sides) and stops accepting: connects are refused. */
  cut(): void;
  /** Listens again on the same port. */
  restore(): Promise<void>;
  /** cut() and release the port. */
  close(): Promise<void>;
}

export async function startProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let server: net.Server | null = null;
  let port = 0;

  const onConnection = (client: net.Socket): void => {
    const upstream = net.connect(targetPort, targetHost);
    sockets.add(client);
    sockets.add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    // Errors (ECONNRESET, EPIPE) end the pair; never let them surface as uncaught.
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  };

  const listen = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = net.createServer(onConnection);
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        s.off('error', reject);
        port = (s.address() as net.AddressInfo).port;
        server = s;
        resolve();
      });
    });

  /** Stops accepting and destroys every open pair; resolves when the listener is released. */
  const shut = (): Promise<void> => {
    const s = server;
    server = null;
    // close() stops accepting at once and calls back when its connections are gone (below).
    const closed = s ? new Promise<void>((r) => s.close(() => r())) : Promise.resolve();
    for (const sock of sockets) sock.destroy();
    sockets.clear();
    return closed;
  };

  await listen();
  return {
    get port() {
      return port;
    },
    get connections() {
      return sockets.size / 2;
    },
    cut: () => {
      void shut();
    },
    restore: async () => {
      if (!server) await listen();
    },
    close: shut,
  };
}
