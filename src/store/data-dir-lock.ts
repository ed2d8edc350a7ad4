// The lock that gives one tickplant process DATA_DIR (its journal and its embedded PostgreSQL).
//
// Two processes on one data directory would append to one journal and fight over one database:
// the second must stop at start-up and say who holds it. The lock is a file holding the
// holder's pid, created with link() so that exactly one of two racing starts gets it; a lock
// whose process is gone (a crash, a container restarted with the same pid) is taken over.

import { mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { StartupError } from '../errors.js';
import { createPidFile, readPid } from './pid-file.js';

const LOCK_FILE = 'tickplant.pid';

/** Directories locked by this process: the same pid in a lock file may be us or a predecessor. */
const held = new Set<string>();

export interface DataDirLock {
  readonly dir: string;
  release(): void;
}

export function lockDataDir(dataDir: string): DataDirLock {
  const dir = resolve(dataDir);
  const file = join(dir, LOCK_FILE);
  if (held.has(dir)) throw inUse(dir, process.pid);
  mkdirSync(dir, { recursive: true });
  for (let attempt = 0; ; attempt++) {
    if (createPidFile(file, 0o644)) break;
    const holder = readPid(file);
    if (holder !== undefined && holder !== process.pid && isTickplant(holder)) throw inUse(dir, holder);
    // The holder is gone: take its lock over. Two starts doing this at once: one unlink wins
    // the next link(), the other sees a live holder on its next attempt.
    if (attempt > 2) throw new StartupError(`cannot take the lock ${file} (DATA_DIR): remove it if no tickplant runs`, 'data_dir_in_use');
    try {
      unlinkSync(file);
    } catch {
      // already removed by a racing start
    }
  }
  held.add(dir);
  const onExit = () => release();
  const release = () => {
    if (!held.delete(dir)) return;
    process.off('exit', onExit);
    try {
      if (readPid(file) === process.pid) unlinkSync(file);
    } catch {
      // gone already: nothing to release
    }
  };
  process.once('exit', onExit);
  return { dir, release };
}

/** Alive and, where /proc tells, a Node.js process: a reused pid of another program is no holder. */
function isTickplant(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false; // ESRCH: no such process
  }
  try {
    return /node|tickplant/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return true; // no /proc here: alive is all we can know
  }
}

function inUse(dir: string, pid: number): StartupError {
  return new StartupError(
    `data directory ${dir} is in use by tickplant pid ${pid} (DATA_DIR): stop that process, or give this one its own DATA_DIR`,
    'data_dir_in_use',
  );
}
