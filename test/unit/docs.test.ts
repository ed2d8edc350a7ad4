// The user-facing docs: every README shell example parses as bash, and docs speak of the product, not of how it was built.
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const readme = readFileSync('README.md', 'utf8');
const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);

/** Every file under `dir` whose name ends with one of `exts`. */
const files = (dir: string, exts: string[]): string[] =>
  (readdirSync(dir, { recursive: true }) as string[]).filter((f) => exts.some((e) => f.endsWith(e))).map((f) => join(dir, f));

describe('docs', () => {
  it('finds the README\'s shell examples', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(3);
  });

  it('every README shell example can be pasted into bash (bash -n: no syntax error)', () => {
    for (const b of blocks) {
      const r = spawnSync('bash', ['-n'], { input: b, encoding: 'utf8' });
      expect(r.stderr, b).toBe('');
      expect(r.status, b).toBe(0);
    }
  });

  it('README, ARCHITECTURE, the bench README, config and code comments name no issue, session or source document', () => {
    const history = /\bseeds? ?0\d\d\b|\bissue #?\d+\b|\bsession \d+\b|\bthe seeds?'s?\b/i;
    const checked = ['README.md', 'ARCHITECTURE.md', 'bench/README.md', ...files('config', ['.json']), ...files('src', ['.ts']), ...files('workers', ['.ts'])];
    const found = checked.flatMap((f) =>
      readFileSync(f, 'utf8').split('\n').flatMap((line, i) => (history.test(line) ? [`${f}:${i + 1}: ${line.trim().slice(0, 120)}`] : [])),
    );
    expect(found).toEqual([]);
  });
});
