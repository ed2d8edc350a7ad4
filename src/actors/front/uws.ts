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
  /**
   * A request body not complete this long after the headers is answered 408 and its connection
   * closed (a client trickling a body holds a connection and its buffer). Headers trickled
   * slower than uWS's own 10 s idle limit are cut by uWS.
   */
  requestTimeoutMs: number;
  /** Headers on every HTTP reply (security headers). */
  headers: Readonly<Record<string, string>>;
  /**
   * Paths served as WebSocket: `/ws` and `/ws/:id`. Returns the connection's user data to
   * accept it, or the HTTP reply that refuses it (origin, connection limits); may be async
   * (a token to verify), and the client may leave meanwhile (`aborted` is then called instead).
   */
  upgrade(info: UpgradeInfo): UpgradeDecision<U> | Promise<UpgradeDecision<U>>;
  /** An accepted upgrade whose client left before it completed: undo what `upgrade` counted. */
  aborted(userData: U): void;
  /** An HTTP request cut by the server (408: its body was too slow). */
  timedOut(): void;
  open(ws: Socket<U>): void;
  message(ws: Socket<U>, text: string, bytes: number): void;
  drain(ws: Socket<U>): void;
  close(ws: Socket<U>): void;
  http(req: HttpRequest): HttpReply | Promise<HttpReply>;
  /** The reply for a request refused before `http` sees it (413) or whose handler failed (500), in the route's error shape. */
  errorReply(url: string, status: number, code: string, message: string): HttpReply;
}

export interface UpgradeInfo {
  /** `/ws/{id}`'s id; '' for `/ws`. */
  id: string;
  remoteAddress: string;
  /** Origin and Host headers ('' when absent). */
  origin: string;
  host: string;
  query: URLSearchParams;
}

export type UpgradeDecision<U> = { accept: U } | { refuse: HttpReply };

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

  const writeReply = (res: uWS.HttpResponse, r: HttpReply) => {
    res.writeStatus(STATUS_TEXT[r.status] ?? String(r.status));
    res.writeHeader('content-type', r.contentType ?? 'application/json');
    // A reply's own header replaces the default of the same name (a page with its own CSP).
    for (const k in o.headers) if (r.headers?.[k] === undefined) res.writeHeader(k, o.headers[k]);
    if (r.headers) for (const k in r.headers) res.writeHeader(k, r.headers[k]);
    // Close after each response: uWS.js 20.30 cannot close idle keep-alive connections at
    // shutdown, and a worker that exits while holding one aborts the whole process.
    res.end(r.body, true);
  };

  const upgrade = (res: uWS.HttpResponse, req: uWS.HttpRequest, ctx: uWS.us_socket_context_t, id: string) => {
    // The request object is valid only during this call: read everything needed first.
    const key = req.getHeader('sec-websocket-key');
    const protocol = req.getHeader('sec-websocket-protocol');
    const extensions = req.getHeader('sec-websocket-extensions');
    const info: UpgradeInfo = {
      id,
      remoteAddress: decoder.decode(res.getRemoteAddressAsText()),
      origin: req.getHeader('origin'),
      host: req.getHeader('host'),
      query: new URLSearchParams(req.getQuery() ?? ''),
    };
    const complete = (d: UpgradeDecision<U>) => {
      if ('refuse' in d) writeReply(res, d.refuse);
      else res.upgrade(d.accept, key, protocol, extensions, ctx);
    };
    let decision: UpgradeDecision<U> | Promise<UpgradeDecision<U>>;
    try {
      decision = o.upgrade(info);
    } catch (e) {
      log.error('WebSocket upgrade failed', { error: String((e as Error)?.stack ?? e) });
      writeReply(res, o.errorReply('/ws', 500, 'internal', 'internal error; the server log has the details'));
      return;
    }
    if (!(decision instanceof Promise)) {
      complete(decision);
      return;
    }
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    decision.then(
      (d) => {
        if (aborted) {
          if ('accept' in d) o.aborted(d.accept);
          return;
        }
        res.cork(() => complete(d));
      },
      (e: unknown) => {
        log.error('WebSocket upgrade failed', { error: String((e as Error)?.stack ?? e) });
        if (!aborted) res.cork(() => writeReply(res, o.errorReply('/ws', 500, 'internal', 'internal error; the server log has the details')));
      },
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
    let answered = false;
    const write = (r: HttpReply) => {
      if (aborted || answered) return;
      answered = true;
      res.cork(() => writeReply(res, r));
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
    // uWS restarts its idle timer on every chunk, so a body trickled a byte at a time would
    // hold the connection forever: the whole body gets one deadline.
    const deadline = setTimeout(() => {
      if (refused || aborted) return;
      refused = true;
      o.timedOut();
      write(o.errorReply(url, 408, 'request_timeout', `request body not received within ${o.requestTimeoutMs} ms (HTTP_REQUEST_TIMEOUT_MS)`));
    }, o.requestTimeoutMs);
    // Replaces the handler above (uWS keeps one): it also stops the deadline.
    res.onAborted(() => {
      aborted = true;
      clearTimeout(deadline);
    });
    res.onData((chunk, isLast) => {
      if (refused) return;
      size += chunk.byteLength;
      if (size > o.maxBodyBytes) {
        refused = true;
        clearTimeout(deadline);
        tooLarge();
        return;
      }
      chunks.push(Buffer.from(chunk.slice(0)));
      if (isLast) {
        clearTimeout(deadline);
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
