// Number and time formats of the page: prices at the symbol's decimals, sizes trimmed, local clock times.

/** Decimals that show every price of the levels given (the symbol's tick as the book shows it), 2 to 8. */
export function decimalsOf(prices: readonly number[]): number {
  let d = 2;
  for (const p of prices) {
    const text = String(p);
    const dot = text.indexOf('.');
    if (dot >= 0 && !text.includes('e')) d = Math.max(d, text.length - dot - 1);
  }
  return Math.min(d, 8);
}

export const formatPrice = (p: number, decimals: number): string => p.toFixed(decimals);

/** Sizes with at most 4 decimals, trailing zeros dropped. */
export const formatSize = (s: number): string => (Number.isInteger(s) ? String(s) : String(Number(s.toFixed(4))));

const two = (n: number) => String(n).padStart(2, '0');

/** `HH:MM:SS.mmm` in the browser's time zone. */
export function clockTime(ms: number): string {
  const d = new Date(ms);
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}
