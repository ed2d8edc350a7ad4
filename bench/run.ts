// Runs the benchmark scenarios against their baselines. Run: npm run bench [-- <scenario>...] [--quick]
//
// Builds dist/ (the servers run the built code, as in production), then runs each scenario in
// its own process with the file-descriptor limit raised for 10,000 connections, one after the
// other so they never share the machine, then renders bench/README.md's tables and charts from
// bench/results/*.json. A scenario that fails is reported and the rest still run; exit 1 then.

import { spawnSync } from 'node:child_process';
import { ROOT } from './lib/process.js';

/** In the order a reader meets them in bench/README.md. */
export const SCENARIOS = ['fanout', 'latency', 'ingest', 'analytics', 'feeds', 'persist', 'redis', 'cache', 'snapshot', 'api-load', 'soak'] as const;
const FD_LIMIT = 20_000;

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const asked = args.filter((a) => !a.startsWith('--'));
const unknown = asked.filter((a) => !(SCENARIOS as readonly string[]).includes(a));
if (unknown.length > 0) {
  process.stderr.write(`unknown scenario(s): ${unknown.join(', ')}; choose from ${SCENARIOS.join(', ')}\n`);
  process.exit(2);
}
const chosen = asked.length > 0 ? asked : [...SCENARIOS];

const run = (label: string, command: string): number => {
  process.stdout.write(`\n### ${label}\n`);
  return spawnSync('sh', ['-c', command], { cwd: ROOT, stdio: 'inherit' }).status ?? 1;
};

if (run('build', 'npm run build --silent') !== 0) process.exit(1);
const failed: string[] = [];
for (const s of chosen) {
  // ulimit: each connection is a descriptor on both ends; the default soft limit is 1,024 on many machines.
  const code = run(s, `ulimit -n ${FD_LIMIT} 2>/dev/null || ulimit -n $(ulimit -Hn); exec "${process.execPath}" --import tsx bench/scenarios/${s}.ts${quick ? ' --quick' : ''}`);
  if (code !== 0) failed.push(s);
}
if (!quick && run('charts and bench/README.md', `"${process.execPath}" --import tsx bench/render.ts`) !== 0) failed.push('render');
process.stdout.write(failed.length > 0 ? `\nfailed: ${failed.join(', ')}\n` : `\nall ${chosen.length} scenario(s) ran\n`);
process.exit(failed.length > 0 ? 1 : 0);
