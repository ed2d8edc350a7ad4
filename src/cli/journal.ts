// The writer's journal, for operators. Run: `npm run journal -- inspect|salvage [--dir <journal dir>]` (salvage with tickplant stopped).
//
// inspect: one line per valid record (offset, bytes, the batch it holds) and per damaged byte
//   range, then a summary; exit 0 when clean, 2 when damaged. Reads only.
// salvage: rewrites the journal with every valid record in order and moves the damaged bytes
//   to a side file beside it (`journal.log.damaged-<time>`, their original offsets in
//   `<side file>.txt`); the next start replays the kept records into PostgreSQL. A clean
//   journal is left alone, so running it twice is harmless. It takes DATA_DIR's lock for
//   its run: it refuses while tickplant runs, and tickplant cannot start meanwhile.
// The default dir is DATA_DIR/journal, DATA_DIR as tickplant reads it (env, config/).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeJournalRecord, journalRecordRows } from '../actors/writer/journal-record.js';
import { loadConfig } from '../config.js';
import { StartupError, TickplantError } from '../errors.js';
import { type DataDirLock, lockDataDir } from '../store/data-dir-lock.js';
import { JOURNAL_FILE, counted, defaultScanBudget, fsyncDir, scanJournal } from '../store/journal.js';

const USAGE = 'usage: npm run journal -- inspect|salvage [--dir <journal dir>]  (default: DATA_DIR/journal; stop tickplant before salvage)';
/** An operator asked and waits: the search past damage may work harder than at start-up. */
const cliBudget = (bytes: number): number => 16 * defaultScanBudget(bytes);
const SYMBOLS_SHOWN = 4;

export interface DamagedRange {
  offset: number;
  bytes: number;
  reason: string;
  searched: boolean;
}

export interface InspectReport {
  file: string;
  bytes: number;
  records: number;
  /** Rows of the records that decode as writer batches. */
  rows: number;
  damaged: DamagedRange[];
  /** Valid records after the first damaged range. */
  recordsAfterDamage: number;
}

/** Writes one line per record and per damaged range, then a summary line, to `out`. */
export function inspectJournal(dir: string, out: (line: string) => void): InspectReport {
  const file = path.resolve(dir, JOURNAL_FILE);
  const fd = fs.openSync(file, 'r');
  try {
    const end = fs.fstatSync(fd).size;
    const report: InspectReport = { file, bytes: end, records: 0, rows: 0, damaged: [], recordsAfterDamage: 0 };
    out(`journal ${file}: ${counted(end, 'byte')}`);
    for (const e of scanJournal(fd, end, cliBudget(end))) {
      if (e.kind === 'damage') {
        report.damaged.push({ offset: e.offset, bytes: e.bytes, reason: e.reason, searched: e.searched });
        out(`${at(e.offset)}  DAMAGED ${counted(e.bytes, 'byte')}: ${e.reason}${e.searched ? '' : ' (not searched to the end: the search stopped at its limit)'}`);
        continue;
      }
      report.records++;
      if (report.damaged.length > 0) report.recordsAfterDamage++;
      let holds: string;
      try {
        const d = describeJournalRecord(e.payload);
        report.rows += d.rows;
        const shown = d.symbols.slice(0, SYMBOLS_SHOWN).map((s) => `${s.symbol} seq ${s.firstSeq}-${s.lastSeq}`);
        if (d.symbols.length > SYMBOLS_SHOWN) shown.push(`+${d.symbols.length - SYMBOLS_SHOWN} more`);
        holds = `${counted(d.rows, 'row')}, ${counted(d.symbols.length, 'symbol')}: ${shown.join(', ')}`;
      } catch {
        holds = 'not a writer batch';
      }
      out(`${at(e.offset)}  record  ${counted(e.bytes.length, 'byte')}: ${holds}`);
    }
    const summary = `${counted(report.records, 'valid record')} (${counted(report.rows, 'row')})`;
    if (report.damaged.length === 0) out(`clean: ${summary}`);
    else {
      const bad = report.damaged.reduce((n, d) => n + d.bytes, 0);
      out(`damaged: ${counted(report.damaged.length, 'range')} (${counted(bad, 'byte')}), the first at byte ${report.damaged[0].offset} ` +
        `with ${counted(report.recordsAfterDamage, 'valid record')} after it; ${summary} in all: ` +
        `"npm run journal -- salvage --dir ${path.dirname(file)}" keeps every valid record and moves the damaged bytes aside`);
    }
    return report;
  } finally {
    fs.closeSync(fd);
  }
}

const at = (offset: number): string => `@${offset}`.padStart(12);

export interface SalvageReport {
  file: string;
  /** Valid records the journal holds now, in their original order. */
  records: number;
  rows: number;
  keptBytes: number;
  damaged: (DamagedRange & { sideOffset: number })[];
  /** The damaged bytes, back to back (absent when the journal was clean). */
  sideFile?: string;
  /** Where each range of the side file came from. */
  noteFile?: string;
}

/**
 * Keeps every valid record of `dir`'s journal and moves the damaged bytes to a side file.
 * tickplant must not run meanwhile (the CLI holds DATA_DIR's lock). Crash-safe: the new
 * journal replaces the old one by rename, after it and the side file reached the disk.
 */
export function salvageJournal(dir: string, now = new Date()): SalvageReport {
  const file = path.resolve(dir, JOURNAL_FILE);
  const rfd = fs.openSync(file, 'r');
  const tmp = `${file}.salvage-tmp`;
  const side = `${file}.damaged-${now.toISOString().replace(/:/g, '-')}`;
  const report: SalvageReport = { file, records: 0, rows: 0, keptBytes: 0, damaged: [] };
  let out: number | undefined;
  let sfd: number | undefined;
  try {
    const end = fs.fstatSync(rfd).size;
    let sideBytes = 0;
    for (const e of scanJournal(rfd, end, cliBudget(end))) {
      if (e.kind === 'record') {
        report.records++;
        report.keptBytes += e.bytes.length;
        try {
          report.rows += journalRecordRows(e.payload);
        } catch {
          // not a writer batch: kept all the same, its rows are not counted
        }
        if (out !== undefined) writeAll(out, e.bytes);
        continue;
      }
      if (out === undefined) {
        // The first damage: only now is there anything to rewrite. The records before it are
        // the file's prefix, copied as they are.
        out = fs.openSync(tmp, 'w');
        copyRange(rfd, out, 0, e.offset);
        sfd = fs.openSync(side, 'wx');
      }
      copyRange(rfd, sfd!, e.offset, e.bytes);
      report.damaged.push({ offset: e.offset, bytes: e.bytes, reason: e.reason, searched: e.searched, sideOffset: sideBytes });
      sideBytes += e.bytes;
    }
    if (out === undefined) return report; // clean: nothing to do
    // Durability order: the damaged bytes and their note reach the disk before the old journal
    // is replaced, and the new journal before it takes the old one's name.
    fs.fsyncSync(sfd!);
    const note = `${side}.txt`;
    fs.writeFileSync(note, salvageNote(report, side, now), { flag: 'wx' });
    fsyncFile(note);
    fs.fsyncSync(out);
    fs.closeSync(out);
    out = undefined;
    fs.renameSync(tmp, file);
    fsyncDir(path.dirname(file));
    report.sideFile = side;
    report.noteFile = note;
    return report;
  } finally {
    fs.closeSync(rfd);
    if (sfd !== undefined) fs.closeSync(sfd);
    if (out !== undefined) {
      fs.closeSync(out);
      fs.rmSync(tmp, { force: true }); // failed before the rename: the journal is as it was
    }
  }
}

function salvageNote(r: SalvageReport, side: string, now: Date): string {
  const lines = [
    `Damaged bytes moved out of ${r.file} by "npm run journal -- salvage" at ${now.toISOString()}.`,
    `The journal kept ${counted(r.records, 'valid record')} (${counted(r.rows, 'row')}, ${counted(r.keptBytes, 'byte')}) in their order.`,
    `${path.basename(side)} holds these ranges back to back (byte offsets; end exclusive):`,
  ];
  for (const d of r.damaged) {
    lines.push(`  ${path.basename(side)} [${d.sideOffset}, ${d.sideOffset + d.bytes}) was ${JOURNAL_FILE} [${d.offset}, ${d.offset + d.bytes}): ` +
      `${d.reason}${d.searched ? '' : ' (not searched to the end for valid records)'}`);
  }
  return lines.join('\n') + '\n';
}

function copyRange(from: number, to: number, offset: number, bytes: number): void {
  const buf = Buffer.allocUnsafe(Math.min(bytes, 1 << 20));
  for (let done = 0; done < bytes; ) {
    const got = fs.readSync(from, buf, 0, Math.min(buf.length, bytes - done), offset + done);
    if (got === 0) throw new Error(`journal shrank while being salvaged (at byte ${offset + done})`);
    writeAll(to, buf.subarray(0, got));
    done += got;
  }
}

function writeAll(fd: number, buf: Uint8Array): void {
  for (let done = 0; done < buf.length; ) done += fs.writeSync(fd, buf, done, buf.length - done);
}

function fsyncFile(file: string): void {
  const fd = fs.openSync(file, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** `inspect|salvage [--dir <dir>]`; undefined for anything else. */
function parseArgs(argv: string[]): { command: 'inspect' | 'salvage'; dir?: string } | undefined {
  const [command, ...rest] = argv;
  if (command !== 'inspect' && command !== 'salvage') return undefined;
  let dir: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--dir' && rest[i + 1]) dir = rest[++i];
    else if (rest[i].startsWith('--dir=') && rest[i].length > '--dir='.length) dir = rest[i].slice('--dir='.length);
    else return undefined;
  }
  return { command, dir };
}

/** Runs one command; returns the exit code. */
export function main(
  argv: string[],
  out: (line: string) => void = (l) => process.stdout.write(l + '\n'),
  err: (line: string) => void = (l) => process.stderr.write(l + '\n'),
): number {
  const args = parseArgs(argv);
  if (args === undefined) {
    err(USAGE);
    return 1;
  }
  try {
    const dir = path.resolve(args.dir ?? path.join(loadConfig().dataDir, 'journal'));
    if (!fs.existsSync(path.join(dir, JOURNAL_FILE))) {
      err(`journal: no ${JOURNAL_FILE} in ${dir} (give the journal directory with --dir, or set DATA_DIR as tickplant has it)`);
      return 1;
    }
    if (args.command === 'inspect') return inspectJournal(dir, out).damaged.length > 0 ? 2 : 0;
    const dataDir = path.dirname(dir); // the writer's journal is DATA_DIR/journal
    let lock: DataDirLock;
    try {
      lock = lockDataDir(dataDir);
    } catch (e) {
      if (!(e instanceof StartupError) || e.code !== 'data_dir_in_use') throw e;
      const pid = /pid (\d+)/.exec(e.message)?.[1];
      err(`journal: ${dataDir} is in use by a running tickplant${pid ? ` (pid ${pid})` : ''}: stop it first (salvage rewrites the file its writer appends to)`);
      return 1;
    }
    try {
      const r = salvageJournal(dir);
      if (r.sideFile === undefined) out(`journal ${r.file} is clean (${counted(r.records, 'valid record')}): nothing to salvage`);
      else {
        const moved = r.damaged.reduce((n, d) => n + d.bytes, 0);
        out(`salvaged ${r.file}: kept ${counted(r.records, 'valid record')} (${counted(r.rows, 'row')}, ${counted(r.keptBytes, 'byte')}) in order; ` +
          `moved ${counted(moved, 'damaged byte')} (${counted(r.damaged.length, 'range')}) to ${r.sideFile}, their offsets in ${r.noteFile}; ` +
          'the next start replays the kept records into PostgreSQL');
      }
      return 0;
    } finally {
      lock.release();
    }
  } catch (e) {
    err(`journal: ${e instanceof TickplantError ? e.message : (e as Error).stack ?? String(e)}`);
    return 1;
  }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
