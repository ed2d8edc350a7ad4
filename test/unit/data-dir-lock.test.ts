// The DATA_DIR lock: one holder at a time, a dead holder's lock taken over, a live one named.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockDataDir } from '../../src/store/data-dir-lock.js';
import { StartupError } from '../../src/errors.js';

const fresh = () => mkdtempSync(join(tmpdir(), 'tickplant-lock-'));

describe('lockDataDir', () => {
  it('holds the directory until released; a second lock in the same process is refused', () => {
    const dir = fresh();
    const lock = lockDataDir(dir);
    expect(readFileSync(join(dir, 'tickplant.pid'), 'utf8').trim()).toBe(String(process.pid));
    expect(() => lockDataDir(dir)).toThrow(StartupError);
    lock.release();
    expect(existsSync(join(dir, 'tickplant.pid'))).toBe(false);
    lockDataDir(dir).release(); // free again
  });

  it('names the pid of a live tickplant (node) process holding it', async () => {
    const dir = fresh();
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    try {
      writeFileSync(join(dir, 'tickplant.pid'), `${other.pid}\n`);
      expect(() => lockDataDir(dir)).toThrow(new RegExp(`data directory .* is in use by tickplant pid ${other.pid} \\(DATA_DIR\\)`));
    } finally {
      other.kill();
    }
  });

  it('takes over the lock of a process that is gone, and one whose pid now belongs to another program', async () => {
    const dir = fresh();
    const gone = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    await new Promise((r) => gone.on('exit', r));
    writeFileSync(join(dir, 'tickplant.pid'), `${gone.pid}\n`);
    lockDataDir(dir).release();

    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' }); // alive, but not tickplant
    try {
      writeFileSync(join(dir, 'tickplant.pid'), `${sleeper.pid}\n`);
      const lock = lockDataDir(dir);
      expect(readFileSync(join(dir, 'tickplant.pid'), 'utf8').trim()).toBe(String(process.pid));
      lock.release();
    } finally {
      sleeper.kill();
    }
  });
});
