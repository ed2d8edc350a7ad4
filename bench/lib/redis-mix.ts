// The writer's Redis command mix as individual commands, for the baselines that send them one by one.
//
// Mirrors RedisTier.writeBatch (src/store/redis-tier.ts) command for command: per symbol
// SET latest EX ttl, LPUSH history (all frames), LTRIM, EXPIRE, then PUBLISH of every frame.

import type { BatchItem } from '../../src/store/redis-tier.js';

export const TTL_SECONDS = 3600;
export const HISTORY_LENGTH = 100;

export type Command = [string, ...(string | number | Buffer)[]];

export function commandsOf(items: readonly BatchItem[], prefix: string): Command[] {
  const bySymbol = new Map<string, (string | Buffer)[]>();
  for (const it of items) {
    const list = bySymbol.get(it.symbol);
    if (list) list.push(it.latest);
    else bySymbol.set(it.symbol, [it.latest]);
  }
  const out: Command[] = [];
  for (const [symbol, frames] of bySymbol) {
    const history = `${prefix}${symbol}:history`;
    out.push(['set', `${prefix}${symbol}:latest`, frames[frames.length - 1], 'EX', TTL_SECONDS]);
    out.push(['lpush', history, ...frames]);
    out.push(['ltrim', history, 0, HISTORY_LENGTH - 1]);
    out.push(['expire', history, TTL_SECONDS]);
    for (const f of frames) out.push(['publish', `${prefix}${symbol}`, f]);
  }
  return out;
}
