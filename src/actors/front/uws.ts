// The only file that imports uWebSockets.js: server start/stop, WebSocket behaviour, HTTP replies.
//
// uWS rules this file enforces for everyone else:
// - a received message's ArrayBuffer is valid only until the handler returns: callers get
//   a string decoded at once;
// - an HTTP response may be written only if the client has not gone away (onAborted), and
//   only inside cork() when written outside the request's own callback;
// - a worker that exits while uWS still holds its listen socket or connections aborts the
//   process: close() ends every connection and the listen socket before resolving, and HTTP
//   responses close their connection (there is no handle on idle keep-alive ones).

import uWS from 'uWebSockets.js';
import { StartupError } from '../../errors.js';
import { logger } from '../../log.js';
import type { HttpReply, HttpRequest } from '../../protocol/http.js';

const log = logger('http');

/** The subset of a uWS WebSocket the protocol uses (structurally the uWS object itself). */
export interface Socket<U> {
  send(message: Uint8Array | string, isBinary?: boolean): number;
  subscribe(topic: string): boolean;
  unsubscribe(topic: string): boolean;
  getBufferedAmount(): number;
  cork(cb: () => void): unknown;
  end(code?: number, reason?: string): void;
  getUserData(): U;
}

/** send() results, per uWS: 1 sent, 0 sent but backpressure built up, 2 dropped. */
export const SEND_DROPPED = 2;

export interface ServerOptions<U> {
  host: string;
  port: number;
  maxBackpressure: number;
  maxPayloadLength: number;
  idleTimeoutS: number;
  /** A request body larger than this is answered 413 without being read further. */
  maxBodyBytes: number;
  /** Paths served as WebSocket: `/ws` and `/ws/:id`; `id` is '' for `/ws`. */
  createUserData(id: string, remoteAddress: string): U;
  open(ws: Socket<U>): void;
  message(ws: Socket<U>, text: string, bytes: number): void;
  drain(ws: Socket<U>): void;
  close(ws: Socket<U>): void;
  http(req: HttpRequest): HttpReply | Promise<HttpReply>;
  /** The reply for a request refused before `http` sees it (413) or whose handler failed (500), in the route's error shape. */
  errorReply(url: string, status: number, code: string, message: string): HttpReply;
}

export interface Server {
  readonly port: number;
  publish(topic: string, message: Uint8Array): boolean;
  subscribers(topic: string): number;
  /**
   * Closes the listen socket and ends every connection with `code`; resolves once all are
   * closed (connections that do not answer the close handshake in `graceMs` are cut).
   */
  close(code: number, reason: string, graceMs: number): Promise<void>;
}

const STATUS_TEXT: Record<number, string> = {
  200: '200 OK', 201: '201 Created', 304: '304 Not Modified', 400: '400 Bad Request', 404: '404 Not Found',
  405: '405 Method Not Allowed', 413: '413 Payload Too Large', 415: '415 Unsupported Media Type', 426: '426 Upgrade Required', 429: '429 Too Many Requests',
  500: '500 Internal Server Error', 503: '503 Service Unavailable',
};

/** uWS's ListenOptions value; its typings declare it, but not the (host, port, options) overload the native module has. */
const LIBUS_LISTEN_EXCLUSIVE_PORT = 1;
type ListenWithOptions = (host: string, port: number, options: number, cb: (s: uWS.us_listen_socket | false) => void) => void;

const decoder = new TextDecoder('utf-8', { fatal: false });
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const EMPTY_BODY = Buffer.alloc(0);

export function startServer<U>(o: ServerOptions<U>): Promise<Server> {
  if (!('DEDICATED_COMPRESSOR_3KB' in uWS)) {
    // The package falls back to a slow pure-JS emulation when its native build fails to load.
    throw new Error('uWebSockets.js native build not loaded (glibc or Node ABI mismatch); refusing the JS fallback');
  }
  const sockets = new Set<uWS.WebSocket<U>>();
  const app = uWS.App();

  const upgrade = (res: uWS.HttpResponse, req: uWS.HttpRequest, ctx: uWS.us_socket_context_t, id: string) => {
    const remote = decoder.decode(res.getRemoteAddressAsText());
    res.upgrade(
      o.createUserData(id, remote),
      req.getHeader('sec-websocket-key'),
      req.getHeader('sec-websocket-protocol'),
      req.getHeader('sec-websocket-extensions'),
      ctx,
    );
  };

  const behavior: uWS.WebSocketBehavior<U> = {
    maxPayloadLength: o.maxPayloadLength,
    maxBackpressure: o.maxBackpressure,
    closeOnBackpressureLimit: 0,
    idleTimeout: o.idleTimeoutS,
    sendPingsAutomatically: true,
    compression: uWS.DISABLED,
    open: (ws) => {
      sockets.add(ws);
      o.open(ws as unknown as Socket<U>);
    },
    // Decoded before returning: the ArrayBuffer is neutered once this handler returns.
    message: (ws, message) => o.message(ws as unknown as Socket<U>, decoder.decode(message), message.byteLength),
    drain: (ws) => o.drain(ws as unknown as Socket<U>),
    close: (ws) => {
      sockets.delete(ws);
      o.close(ws as unknown as Socket<U>);
    },
  };
  app.ws<U>('/ws', { ...behavior, upgrade: (res, req, ctx) => upgrade(res, req, ctx, '') });
  app.ws<U>('/ws/:id', { ...behavior, upgrade: (res, req, ctx) => upgrade(res, req, ctx, req.getParameter(0) ?? '') });

  app.any('/*', (res, req) => {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const url = req.getUrl();
    const q = req.getQuery() ?? '';
    const headers = new Map<string, string>();
    req.forEach((k, v) => headers.set(k, v));
    const method = req.getMethod().toUpperCase();
    const request: HttpRequest = {
      method,
      url,
      query: new URLSearchParams(q),
      header: (name) => headers.get(name.toLowerCase()) ?? '',
      headers,
      remoteAddress: decoder.decode(res.getRemoteAddressAsText()),
      body: EMPTY_BODY,
    };
    const write = (r: HttpReply) => {
      if (aborted) return;
      res.cork(() => {
        res.writeStatus(STATUS_TEXT[r.status] ?? String(r.status));
        res.writeHeader('content-type', r.contentType ?? 'application/json');
        for (const [k, v] of Object.entries(r.headers ?? {})) res.writeHeader(k, v);
        // Close after each response: uWS.js 20.30 cannot close idle keep-alive connections at
        // shutdown, and a worker that exits while holding one aborts the whole process.
        res.end(r.body, true);
      });
    };
    // A bug, not the client's doing: the details go to the log, the client gets a fixed message.
    const fail = (e: unknown) => {
      log.error('HTTP handler failed', { method: request.method, url: request.url, error: String((e as Error)?.stack ?? e) });
      write(o.errorReply(url, 500, 'internal', 'internal error; the server log has the details'));
    };
    const handle = () => {
      try {
        const r = o.http(request);
        if (r instanceof Promise) r.then(write, fail);
        else write(r);
      } catch (e) {
        fail(e);
      }
    };
    if (!BODY_METHODS.has(method)) {
      handle();
      return;
    }
    const tooLarge = () => write(o.errorReply(url, 413, 'payload_too_large', `request body over ${o.maxBodyBytes} bytes (HTTP_MAX_BODY_BYTES)`));
    const declared = Number(headers.get('content-length') ?? '0');
    if (declared > o.maxBodyBytes) {
      tooLarge();
      return;
    }
    // uWS hands the body in chunks whose ArrayBuffers are reused after the callback: copy each.
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    res.onData((chunk, isLast) => {
      if (refused) return;
      size += chunk.byteLength;
      if (size > o.maxBodyBytes) {
        refused = true;
        tooLarge();
        return;
      }
      chunks.push(Buffer.from(chunk.slice(0)));
      if (isLast) {
        request.body = Buffer.concat(chunks, size);
        handle();
      }
    });
  });

  return new Promise((resolve, reject) => {
    // Exclusive: uWS listens with SO_REUSEPORT by default, and then a second server on the same
    // port "listens" too while the kernel splits connections between the two at random.
    const listen = app.listen as unknown as ListenWithOptions;
    listen.call(app, o.host, o.port, LIBUS_LISTEN_EXCLUSIVE_PORT, (listenSocket) => {
      if (!listenSocket) {
        reject(new StartupError(`cannot listen on ${o.host}:${o.port} (WEBSOCKET_PORT): the port is taken or not permitted; set WEBSOCKET_PORT to a free port`, 'port_in_use'));
        return;
      }
      resolve({
        port: uWS.us_socket_local_port(listenSocket),
        publish: (topic, message) => app.publish(topic, message, false),
        subscribers: (topic) => app.numSubscribers(topic),
        close: async (code, reason, graceMs) => {
          uWS.us_listen_socket_close(listenSocket);
          for (const ws of [...sockets]) ws.end(code, reason);
          const until = Date.now() + graceMs;
          while (sockets.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
          for (const ws of [...sockets]) ws.close(); // no close handshake: cut
        },
      });
    });
  });
}
