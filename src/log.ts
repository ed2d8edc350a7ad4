// One-line structured logging shared by every thread (prefixing the actor's name).

type Level = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

let minRank = RANK.info;
let asJson = false;

export function configureLog(level: Level, json: boolean): void {
  minRank = RANK[level];
  asJson = json;
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/**
 * A URL with its password replaced by ***: secrets never reach logs or messages. pg and ioredis
 * also take a password as a query parameter (`?password=`, pg's `sslpassword`), so those go too.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    // Only when one is there: rewriting the query re-encodes it (%20 becomes +).
    const secret = [...u.searchParams.keys()].filter((k) => /password/i.test(k));
    for (const k of secret) u.searchParams.set(k, '***');
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

export function logger(actor: string): Logger {
  const emit = (level: Level, msg: string, fields?: Record<string, unknown>): void => {
    if (RANK[level] < minRank) return;
    const time = new Date().toISOString();
    const line = asJson
      ? JSON.stringify({ time, level, actor, msg, ...fields })
      : `${time} ${level.padEnd(5)} [${actor}] ${msg}${fields ? ' ' + JSON.stringify(fields) : ''}`;
    (level === 'error' || level === 'warn' ? process.stderr : process.stdout).write(line + '\n');
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}
