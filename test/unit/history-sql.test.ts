// The history queries as text: parameters only, and each variant's own bucketing (test/integration/timescaledb.test.ts runs both).
import { describe, expect, it } from 'vitest';
import { METRIC_NAMES } from '../../src/ring/layout.js';
import { historySql } from '../../src/store/history-query.js';

const squash = (s: string): string => s.replace(/\s+/g, ' ').trim();

describe('historySql(timescale = true)', () => {
  const sql = squash(historySql(true));

  it('buckets with time_bucket on the Unix epoch, the width in ms from $4', () => {
    expect(sql).toContain("time_bucket($4::float8 * interval '1 millisecond', time, timestamptz 'epoch') as bucket");
    expect(sql).toContain('group by bucket');
    expect(sql).not.toMatch(/date_bin|distinct on/);
  });

  it('takes every metric, seq and epoch with last(col, (time, seq)) and counts the rows', () => {
    for (const col of ['seq', 'epoch', ...METRIC_NAMES]) expect(sql).toContain(`last(${col}, (time, seq)) as ${col}`);
    expect(sql.match(/last\(/g)).toHaveLength(2 + METRIC_NAMES.length);
    expect(sql).toContain('count(*) as count');
  });

  it('filters symbol and [fromMs, toMs) in the database and returns at most $5 buckets, earliest first', () => {
    expect(sql).toContain("where symbol = $1 and time >= timestamptz 'epoch' + $2::float8 * interval '1 millisecond' and time < timestamptz 'epoch' + $3::float8 * interval '1 millisecond'");
    expect(sql).toMatch(/order by bucket limit \$5\) b order by bucket$/);
  });

  it('selects the columns HistoryRow is built from, metrics in METRIC_NAMES order', () => {
    expect(sql).toMatch(new RegExp(`^select \\(extract\\(epoch from bucket\\) \\* 1000\\)::float8 as bucket_ms, seq, epoch, count, ${METRIC_NAMES.join(', ')} from `));
  });

  it('uses only parameters $1..$5, so nothing is interpolated from the query', () => {
    expect(new Set(sql.match(/\$\d+/g))).toEqual(new Set(['$1', '$2', '$3', '$4', '$5']));
  });
});

describe('historySql(timescale = false)', () => {
  it('uses date_bin and DISTINCT ON, no TimescaleDB function', () => {
    const sql = squash(historySql(false));
    expect(sql).toContain("date_bin($4::float8 * interval '1 millisecond', time, timestamptz 'epoch') as bucket");
    expect(sql).toContain('distinct on (bucket)');
    expect(sql).toContain('order by bucket, time desc, seq desc limit $5');
    expect(sql).not.toMatch(/time_bucket|last\(/);
  });
});
