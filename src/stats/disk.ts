// Free space under DATA_DIR (embedded database, journal): reported on /health, logged when it runs low.
//
// A full disk stops PostgreSQL and the journal at once, and nothing before it complains: the
// operator must hear about it while there is still time to lower RETENTION or free space.

import { statfsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Logger } from '../log.js';

export interface DiskState {
  path: string;
  freeBytes: number;
  totalBytes: number;
  low: boolean;
}

const GIB = 2 ** 30;
const gib = (n: number) => `${(n / GIB).toFixed(1)} GiB`;

export class DiskWatch {
  private wasLow = false;
  private timer?: NodeJS.Timeout;

  /** `minFreeBytes` 0 turns the check off (always fine). */
  constructor(private readonly dir: string, private readonly minFreeBytes: number, private readonly log: Logger) {}

  /** Statfs of DATA_DIR, or of its nearest existing parent before it is created. */
  state(): DiskState {
    let path = resolve(this.dir);
    for (;;) {
      try {
        const s = statfsSync(path);
        const freeBytes = s.bavail * s.bsize; // available to unprivileged users, as PostgreSQL sees it
        return { path, freeBytes, totalBytes: s.blocks * s.bsize, low: this.minFreeBytes > 0 && freeBytes < this.minFreeBytes };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(path) === path) throw e;
        path = dirname(path);
      }
    }
  }

  /** One line for /health. */
  describe(s = this.state()): string {
    const base = `${gib(s.freeBytes)} free of ${gib(s.totalBytes)} at ${s.path}`;
    return s.low ? `${base}: below DISK_MIN_FREE_BYTES (${gib(this.minFreeBytes)}); lower RETENTION or free space` : base;
  }

  /** Checks every `everyMs` and logs once when space falls below the threshold, and once when it is back. */
  start(everyMs: number): void {
    const check = () => {
      let s: DiskState;
      try {
        s = this.state();
      } catch (e) {
        this.log.warn('cannot read the free space of DATA_DIR', { error: (e as Error).message });
        return;
      }
      if (s.low && !this.wasLow) this.log.warn(`disk space low: ${this.describe(s)}`);
      if (!s.low && this.wasLow) this.log.info(`disk space back above DISK_MIN_FREE_BYTES: ${this.describe(s)}`);
      this.wasLow = s.low;
    };
    check();
    this.timer = setInterval(check, everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
