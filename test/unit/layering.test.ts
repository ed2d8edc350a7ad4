// The tree's arrows point down: lower layers never import the actors, the cache never imports the front.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve('src');

/** Every import of every .ts file under src/, as paths relative to src/. */
function imports(): { from: string; to: string }[] {
  const out: { from: string; to: string }[] = [];
  for (const f of readdirSync(SRC, { recursive: true }) as string[]) {
    if (!f.endsWith('.ts')) continue;
    const text = readFileSync(join(SRC, f), 'utf8');
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+'(\.[^']+)'/g)) {
      out.push({ from: f, to: relative(SRC, resolve(dirname(join(SRC, f)), m[1])).replace(/\.js$/, '.ts') });
    }
  }
  return out;
}

const RULES: { from: RegExp; never: RegExp; why: string }[] = [
  { from: /^(ring|book|protocol|store|feeds|stats|cache|auth|analytics)\//, never: /^actors\//, why: 'lower layers serve the actors, never the other way' },
  { from: /^cache\//, never: /^actors\/front\//, why: 'the cache service does not know who serves it' },
];

describe('layering', () => {
  const all = imports();
  it('finds the imports it checks', () => {
    expect(all.length).toBeGreaterThan(100);
  });
  for (const r of RULES) {
    it(`${r.from.source} never imports ${r.never.source}: ${r.why}`, () => {
      expect(all.filter((i) => r.from.test(i.from) && r.never.test(i.to))).toEqual([]);
    });
  }
});
