// Builds the chart page into dist/web: index.html, and under assets/ the bundled script (the page,
// the SDK from client/src, lightweight-charts) and stylesheet, named by a hash of their content.
//
//   node --import tsx web/build.ts        (the last step of `npm run build`)
//
// The names change whenever the content does, so the front serves assets/ as immutable for a year
// and index.html, which names them, as no-cache.

import { cpSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Where the front looks for the page (src/actors/front/page.ts). */
export const PAGE_OUT_DIR = join(ROOT, 'dist', 'web');

/** Builds into `outDir` (replaced whole, so no stale asset survives); returns the asset names. */
export async function buildPage(outDir: string = PAGE_OUT_DIR): Promise<{ script: string; style: string }> {
  // Built beside the target and swapped in: a server reading outDir never sees half a build.
  const tmp = `${outDir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const result = await build({
    entryPoints: { main: join(ROOT, 'web/src/main.ts'), style: join(ROOT, 'web/style.css') },
    outdir: join(tmp, 'assets'),
    entryNames: '[name]-[hash]',
    bundle: true,
    format: 'esm',
    target: 'es2022',
    platform: 'browser',
    minify: true,
    legalComments: 'linked',
    metafile: true,
    logLevel: 'warning',
  });
  const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p));
  const script = outputs.find((n) => /^main-.*\.js$/.test(n));
  const style = outputs.find((n) => /^style-.*\.css$/.test(n));
  if (!script || !style) throw new Error(`web build: expected main-*.js and style-*.css among ${outputs.join(', ')}`);
  const html = readFileSync(join(ROOT, 'web/index.html'), 'utf8')
    .replace('src="/assets/main.js"', `src="/assets/${script}"`)
    .replace('href="/assets/style.css"', `href="/assets/${style}"`);
  if (!html.includes(script) || !html.includes(style)) throw new Error('web build: web/index.html must load src="/assets/main.js" and href="/assets/style.css"');
  writeFileSync(join(tmp, 'index.html'), html);
  mkdirSync(dirname(outDir), { recursive: true });
  rmSync(outDir, { recursive: true, force: true });
  try {
    renameSync(tmp, outDir);
  } catch {
    cpSync(tmp, outDir, { recursive: true }); // another filesystem
    rmSync(tmp, { recursive: true, force: true });
  }
  return { script, style };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { script, style } = await buildPage();
  console.log(`web: ${PAGE_OUT_DIR}/index.html, assets/${script}, assets/${style}`);
}
