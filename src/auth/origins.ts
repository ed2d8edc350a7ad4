// Which browser origins may open a WebSocket or read an HTTP answer: the server's own, and ALLOWED_ORIGINS.
//
// Only browsers send Origin, and they always send it on WebSocket upgrades: a request without
// one is not a browser's and is left to the credential checks.

export class OriginPolicy {
  private readonly any: boolean;
  private readonly allowed: ReadonlySet<string>;

  constructor(allowedOrigins: readonly string[]) {
    this.any = allowedOrigins.includes('*');
    this.allowed = new Set(allowedOrigins.map((o) => o.toLowerCase()));
  }

  /**
   * Whether a request from `origin` ('' when absent) to the server reached as `host` (the Host
   * header) may proceed: no origin, the same origin, or one listed.
   */
  allows(origin: string, host: string): boolean {
    if (origin === '') return true;
    if (this.any) return true;
    const o = origin.toLowerCase();
    if (this.allowed.has(o)) return true;
    return sameOrigin(o, host.toLowerCase());
  }

  /** Whether `origin` is another site that ALLOWED_ORIGINS lets read answers (CORS). */
  isCrossOriginAllowed(origin: string): boolean {
    return origin !== '' && (this.any || this.allowed.has(origin.toLowerCase()));
  }
}

/** The origin's host[:port] is the Host the request was sent to (the page was served by this server). */
function sameOrigin(origin: string, host: string): boolean {
  if (host === '') return false;
  const at = origin.indexOf('://');
  if (at < 0) return false;
  const scheme = origin.slice(0, at);
  let authority = origin.slice(at + 3);
  // Browsers omit default ports in Origin; a Host header may carry them.
  const defaultPort = scheme === 'https' ? ':443' : scheme === 'http' ? ':80' : '';
  const h = defaultPort !== '' && host.endsWith(defaultPort) ? host.slice(0, -defaultPort.length) : host;
  if (defaultPort !== '' && authority.endsWith(defaultPort)) authority = authority.slice(0, -defaultPort.length);
  return authority === h;
}
