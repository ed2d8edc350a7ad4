// The Docker image's runtime layout, without Docker: the production build run as an unprivileged user from a root-owned /app.
//
// What the Dockerfile's last stage sets (WORKDIR, ENV, USER, the data directory it creates) is
// read from the Dockerfile itself, so the test follows the image when it changes.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeployment } from '../helpers/runtime.js';
import { freePort, startMain } from '../helpers/main-process.js';

interface Stage { workdir: string; env: Record<string, string>; user: string; runs: string[]; copies: string[] }

function runtimeStage(): Stage {
  const text = readFileSync('Dockerfile', 'utf8').replace(/\\\n\s*/g, ' ');
  const last = text.slice(text.lastIndexOf('\nFROM '));
  const lines = last.split('\n').map((l) => l.trim());
  const env: Record<string, string> = {};
  for (const l of lines.filter((x) => x.startsWith('ENV '))) {
    for (const m of l.slice(4).matchAll(/(\w+)=(\S+)/g)) env[m[1]] = m[2];
  }
  const one = (kw: string) => lines.find((l) => l.startsWith(`${kw} `))?.slice(kw.length + 1).trim() ?? '';
  return {
    workdir: one('WORKDIR'), env, user: one('USER'),
    runs: lines.filter((l) => l.startsWith('RUN ')),
    // The source of each COPY (the build stage's /app/x, or a file of the context).
    copies: lines.filter((l) => l.startsWith('COPY ')).map((l) => l.split(/\s+/).at(-2)!.replace(/^\/app\//, '')),
  };
}

const stage = runtimeStage();
const asRoot = process.getuid?.() === 0;
let root: string;
let app: string;
let dataDir: string;
let filesBefore: string[];

/** Every path under `dir` (symlinks not followed). */
const tree = (dir: string): string[] => readdirSync(dir, { recursive: true, withFileTypes: false }) as string[];

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'tickplant-image-'));
  chmodSync(root, 0o755);
  app = join(root, stage.workdir);
  mkdirSync(app, { recursive: true });
  // The production build, as the image's build stage makes it.
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--outDir', join(app, 'dist')], { stdio: 'pipe' });
  symlinkSync(join(process.cwd(), 'node_modules'), join(app, 'node_modules'));
  cpSync('package.json', join(app, 'package.json'));
  cpSync('config', join(app, 'config'), { recursive: true });
  // The data directory, created and handed to the service user as the Dockerfile's RUN does.
  dataDir = join(root, stage.env.DATA_DIR);
  mkdirSync(dataDir, { recursive: true });
  if (asRoot) chownSync(dataDir, 65534, 65534); // nobody stands in for the image's `node` user
  else chmodSync(app, 0o555); // not root: a read-only /app is what the service user meets
  filesBefore = tree(app);
});

afterAll(() => {
  if (!asRoot) chmodSync(app, 0o755);
  rmSync(root, { recursive: true, force: true });
});

/** The image's process: `node dist/src/main.js` in WORKDIR, with the image's ENV, as the unprivileged user. */
function startImage(extra: NodeJS.ProcessEnv) {
  return startMain(
    { ...stage.env, DATA_DIR: dataDir, ...extra },
    { command: [process.execPath, ['dist/src/main.js']], cwd: app, ...(asRoot ? { uid: 65534, gid: 65534 } : {}) },
  );
}

describe('the image layout', () => {
  it('the Dockerfile runs as an unprivileged user with DATA_DIR outside /app, created and owned by that user', () => {
    expect(stage.user).not.toMatch(/^(root|0)?$/);
    expect(stage.env.DATA_DIR).toMatch(/^\//);
    expect(stage.env.DATA_DIR.startsWith(stage.workdir)).toBe(false);
    expect(stage.runs.some((r) => r.includes(`mkdir -p ${stage.env.DATA_DIR}`) && r.includes(`chown ${stage.user}:${stage.user} ${stage.env.DATA_DIR}`))).toBe(true);
    // What the image puts in /app, and so what beforeAll puts in the stand-in: a change here must change both.
    expect(stage.copies.sort()).toEqual(['config', 'dist', 'node_modules', 'package.json']);
  });

  it('starts with no environment but the image\'s: embedded PostgreSQL under DATA_DIR, nothing written to /app', async () => {
    const p = startImage({ WEBSOCKET_PORT: String(await freePort()), EMBEDDED_PG_PORT: String(await freePort()) });
    const port = await p.port(90_000);
    const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { components: Record<string, { status: string; detail?: string }> };
    expect(health.components.database).toEqual({ status: 'ok', detail: 'PostgreSQL (embedded)' });
    expect(health.components.disk.detail).toContain(dataDir);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(tree(app)).toEqual(filesBefore);
    if (asRoot) {
      const owner = spawnSync('stat', ['-c', '%u', join(dataDir, 'pg')], { encoding: 'utf8' }).stdout.trim();
      expect(owner).toBe('65534');
    }
  });

  it('starts with DATABASE_URL (its own PostgreSQL): only the journal and the lock under DATA_DIR', async () => {
    const dep = await createDeployment();
    try {
      const p = startImage({ WEBSOCKET_PORT: String(await freePort()), DATABASE_URL: dep.url });
      const port = await p.port(60_000);
      const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { components: Record<string, { status: string; detail?: string }> };
      expect(health.components.database).toEqual({ status: 'ok', detail: 'PostgreSQL' });
      p.child.kill('SIGTERM');
      expect(await p.exited).toBe(0);
      expect(tree(app)).toEqual(filesBefore);
    } finally {
      await dep.drop();
    }
  });
});
