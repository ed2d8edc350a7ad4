// Lock files that hold the pid of their owner: created whole or not at all, read without trusting their content.

import { closeSync, linkSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';

/**
 * Creates `file` holding this process's pid; false when it exists already. Written whole under
 * a private name, then linked: a reader never sees a half-written pid.
 */
export function createPidFile(file: string, mode: number): boolean {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, `${process.pid}\n`);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    unlinkSync(tmp);
  }
}

/** The pid a lock file holds; undefined when it is gone or holds no pid. */
export function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
