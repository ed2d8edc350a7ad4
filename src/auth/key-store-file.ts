// API keys without a database (PERSIST=false): one JSON file, DATA_DIR/api-keys.json, mode 0600.
//
// Readers (a running tickplant) take no lock: the file is only ever replaced whole, by
// rename, so a read sees the old keys or the new ones, never half a file. Writers (the CLI,
// the first-start admin key) hold `<file>.lock` for their read-modify-write, so two writers
// cannot lose each other's change.

import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeSync, fsyncSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fsyncDir } from '../store/journal.js';
import { createPidFile, readPid } from '../store/pid-file.js';
import { type ApiKeyRecord, type KeyStore, generateKey, hashKey } from './api-keys.js';
import { SCOPES, type Scope } from './identity.js';
import { ApiKeyError, nameTaken, validateKeyRequest } from './key-store-rules.js';

const VERSION = 1;
/** A writer holds the lock for one small read and one write: waiting longer means it is stuck. */
const LOCK_WAIT_MS = 5000;
const LOCK_POLL_MS = 20;
/** Lock files this process holds: two stores on one file in one process must wait for each other too. */
const held = new Set<string>();

interface KeyFile {
  version: number;
  keys: ApiKeyRecord[];
}

export class FileKeyStore implements KeyStore {
  readonly file: string;

  constructor(file: string) {
    this.file = resolve(file); // one spelling per file: the in-process lock set compares paths
  }

  async create(opts: { name: string; user?: string; scopes: Scope[] }): Promise<{ key: string; record: ApiKeyRecord }> {
    const { name, user, scopes } = validateKeyRequest(opts);
    return this.update((keys) => {
      if (keys.some((k) => !k.revokedAt && k.name === name)) throw nameTaken(name);
      let generated = generateKey();
      while (keys.some((k) => k.id === generated.id)) generated = generateKey();
      const record: ApiKeyRecord = { id: generated.id, name, user, scopes, hash: hashKey(generated.key), createdAt: new Date().toISOString() };
      keys.push(record);
      return { key: generated.key, record };
    });
  }

  async list(): Promise<ApiKeyRecord[]> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    return this.parse(text);
  }

  async revoke(idOrName: string): Promise<boolean> {
    return this.update((keys) => {
      // Names never look like ids (validateKeyRequest), so the two matches cannot be different keys.
      const hit = keys.filter((k) => !k.revokedAt && (k.id === idOrName || k.name === idOrName));
      const at = new Date().toISOString();
      for (const k of hit) k.revokedAt = at;
      return hit.length > 0;
    });
  }

  async active(): Promise<ApiKeyRecord[]> {
    return (await this.list()).filter((k) => !k.revokedAt);
  }

  async close(): Promise<void> {
    // Nothing held between calls.
  }

  /** Read, change and replace the file under the writers' lock; `change` edits `keys` in place. */
  private async update<T>(change: (keys: ApiKeyRecord[]) => T): Promise<T> {
    mkdirSync(dirname(this.file), { recursive: true });
    const release = await this.lock();
    try {
      let keys: ApiKeyRecord[] = [];
      try {
        keys = this.parse(readFileSync(this.file, 'utf8'));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      const before = JSON.stringify(keys);
      const result = change(keys);
      const after = JSON.stringify({ version: VERSION, keys } satisfies KeyFile, null, 2) + '\n';
      if (JSON.stringify(keys) !== before) writePrivateFile(this.file, after);
      return result;
    } finally {
      release();
    }
  }

  /**
   * Takes `<file>.lock` (created whole with link(), holding our pid) and returns its release.
   * A lock whose holder is gone (killed mid-write) is taken over.
   */
  private async lock(): Promise<() => void> {
    const lockFile = `${this.file}.lock`;
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      if (!held.has(lockFile) && createPidFile(lockFile, 0o600)) {
        held.add(lockFile);
        return () => {
          held.delete(lockFile);
          try {
            unlinkSync(lockFile);
          } catch {
            // gone already: nothing to release
          }
        };
      }
      const holder = readPid(lockFile);
      // Our own pid in a lock this process does not hold: a predecessor's (a container's pids repeat).
      const stale = holder === undefined ? lockAgeMs(lockFile) > LOCK_WAIT_MS
        : holder === process.pid ? !held.has(lockFile) : !alive(holder);
      if (stale) {
        try {
          unlinkSync(lockFile);
        } catch {
          // another writer took it over first
        }
        continue;
      }
      if (Date.now() > deadline) {
        throw new ApiKeyError('api_key_store_locked', `${lockFile} is held by pid ${holder ?? '?'} for more than ${LOCK_WAIT_MS / 1000} s: if no \`npm run keys\` is running, remove it`);
      }
      await sleep(LOCK_POLL_MS);
    }
  }

  private parse(text: string): ApiKeyRecord[] {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw this.damaged((e as Error).message);
    }
    const d = data as Partial<KeyFile> | null;
    if (typeof d !== 'object' || d === null || d.version !== VERSION || !Array.isArray(d.keys)) {
      throw this.damaged(`expected {"version": ${VERSION}, "keys": [...]}`);
    }
    d.keys.forEach((k, i) => {
      const why = recordProblem(k);
      if (why) throw this.damaged(`keys[${i}]: ${why}`);
    });
    return d.keys;
  }

  // Never "no keys": a damaged file read as empty would mint a new admin key and then
  // overwrite every other key with the next write.
  private damaged(why: string): ApiKeyError {
    return new ApiKeyError('api_key_store_damaged',
      `${this.file} is not a valid API key file (${why}): restore it from a backup, or move it aside and create the keys again with \`npm run keys\``);
  }
}

function recordProblem(k: unknown): string | undefined {
  if (typeof k !== 'object' || k === null) return 'not an object';
  const r = k as Record<string, unknown>;
  if (typeof r.id !== 'string' || !/^[0-9a-f]{8}$/.test(r.id)) return 'id is not 8 hex digits';
  if (typeof r.name !== 'string' || r.name === '') return 'no name';
  if (typeof r.user !== 'string') return 'user is not a string';
  if (!Array.isArray(r.scopes) || r.scopes.length === 0 || !r.scopes.every((s) => (SCOPES as readonly unknown[]).includes(s))) return 'bad scopes';
  if (typeof r.hash !== 'string' || !/^[0-9a-f]{64}$/.test(r.hash)) return 'hash is not 64 hex digits';
  if (typeof r.createdAt !== 'string') return 'no createdAt';
  if (r.revokedAt !== undefined && typeof r.revokedAt !== 'string') return 'revokedAt is not a string';
  return undefined;
}

/**
 * Replaces `file` with `text`, mode 0600: written whole under a private name, synced, then
 * renamed over it. A reader or a crash sees the old file or the new one, never half of one,
 * and no moment exists where others may read it.
 */
export function writePrivateFile(file: string, text: string): void {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  try {
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      const bytes = Buffer.from(text, 'utf8');
      for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
  }
  fsyncDir(dir);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function lockAgeMs(file: string): number {
  try {
    return Date.now() - statSync(file).mtimeMs;
  } catch {
    return Infinity; // gone: the next attempt takes it
  }
}
