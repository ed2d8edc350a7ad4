// An HTTP request and reply as the routes see them: shared by the front (which owns the sockets) and the cache API.

import type { Identity } from '../auth/identity.js';

export interface HttpRequest {
  method: string;
  url: string;
  query: URLSearchParams;
  /** One header's value ('' when absent); names are case-insensitive. */
  header(name: string): string;
  /** Every header, names lower-case (for forwarding the request whole). */
  readonly headers: ReadonlyMap<string, string>;
  remoteAddress: string;
  /** The whole request body (POST, PUT, PATCH, DELETE); empty when none was sent. */
  body: Buffer;
  /**
   * Who the request acts as, set by the front once its credential is verified (the credential
   * headers themselves are not forwarded). Absent: not authenticated by anyone, so nothing
   * beyond an anonymous read is allowed.
   */
  identity?: Identity;
}

export interface HttpReply {
  status: number;
  body: string | Uint8Array;
  contentType?: string;
  headers?: Record<string, string>;
}
