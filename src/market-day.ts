// Where "today" starts: 00:00 in the configured market time zone, as a UTC instant.

/** Offset (ms) of `timeZone` from UTC at instant `ms` (positive east of Greenwich). */
function zoneOffsetMs(ms: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric',
    hour: 'numeric', minute: 'numeric', second: 'numeric',
  }).formatToParts(new Date(ms));
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/** The instant of the most recent local midnight in `timeZone` at or before `nowMs`. */
export function startOfDayMs(nowMs: number, timeZone: string): number {
  const local = nowMs + zoneOffsetMs(nowMs, timeZone);
  const localMidnight = local - (((local % 86_400_000) + 86_400_000) % 86_400_000);
  // The offset at midnight can differ from now's (DST change during the day): correct once.
  let start = localMidnight - zoneOffsetMs(localMidnight - zoneOffsetMs(nowMs, timeZone), timeZone);
  if (start > nowMs) start -= 86_400_000;
  return start;
}
