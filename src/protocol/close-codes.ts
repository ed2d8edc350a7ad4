// WebSocket close codes tickplant sends, and the client-message sizes that lead to them. Each code has one meaning.

/** The server is stopping (graceful shutdown): reconnect, then resume. */
export const CLOSE_GOING_AWAY = 1001;
/** The client sent a message far over WS_MAX_MESSAGE_BYTES (after an error frame saying so). */
export const CLOSE_MESSAGE_TOO_BIG = 1009;

/**
 * AUTH=all: the connection presented no valid credential — none within WS_AUTH_TIMEOUT_MS, an
 * invalid or expired one, or a message other than auth/ping before it. Reconnect with a valid token.
 */
export const CLOSE_UNAUTHORIZED = 4401;
/** AUTH=all: the connection's token expired and no fresh one came within WS_TOKEN_GRACE_MS. */
export const CLOSE_TOKEN_EXPIRED = 4408;
/** The client kept sending past WS_MESSAGE_RATE after being told (rate_limited error frames). */
export const CLOSE_RATE_LIMITED = 4429;

export interface MessageLimits {
  /** Larger messages get an `error` frame (payload_too_large); the connection stays open. */
  errorBytes: number;
  /** Larger messages also close the connection with CLOSE_MESSAGE_TOO_BIG. */
  closeBytes: number;
  /**
   * uWS's maxPayloadLength: it refuses a frame announcing more from its header, before reading
   * it, and can only cut the TCP connection then (no close frame: clients see 1006). Four times
   * closeBytes keeps that for frames no client sends by mistake, while bounding what one
   * connection can make the server buffer.
   */
  uwsBytes: number;
}

export function messageLimits(wsMaxMessageBytes: number): MessageLimits {
  const closeBytes = Math.max(64 * 1024, 4 * wsMaxMessageBytes);
  return { errorBytes: wsMaxMessageBytes, closeBytes, uwsBytes: 4 * closeBytes };
}
