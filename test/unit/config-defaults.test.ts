// Regression: zod does not validate .default() values, so the shard default must be clamped itself.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';

vi.mock('node:os', async (importOriginal) => ({
  ...(await importOriginal<typeof import('node:os')>()),
  availableParallelism: () => 128,
}));

describe('shards default on a 128-core machine', () => {
  it('stays within the schema maximum of 64', async () => {
    const { loadConfig } = await import('../../src/config.js');
    const empty = join(mkdtempSync(join(tmpdir(), 'tickplant-defaults-')), 'empty.json');
    writeFileSync(empty, '{}');
    expect(loadConfig({ TICKPLANT_CONFIG: empty }, {}).shards).toBe(64);
  });
});
