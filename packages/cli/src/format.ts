/** Plain-text output of the command line: integer amounts as decimals, aligned tables, CSV. */

/** `n / 10^digits` as a decimal, from the integer's digits: no float ever holds an amount. */
export function decimal(n: number, digits: number): string {
  if (!Number.isSafeInteger(n)) throw new TypeError(`not an integer amount: ${n}`);
  const abs = String(Math.abs(n)).padStart(digits + 1, '0');
  const whole = abs.slice(0, abs.length - digits);
  const fraction = abs.slice(abs.length - digits);
  return `${n < 0 ? '-' : ''}${whole}${digits ? `.${fraction}` : ''}`;
}

/** Micro-units of a currency (1 USD = 1 000 000) as units: `1234567` -> `1.234567`. */
export const fromMicros = (micros: number): string => decimal(micros, 6);

/** Milliseconds as seconds: `1234` -> `1.234`. */
export const msAsSeconds = (ms: number): string => decimal(ms, 3);

/**
 * Rows as columns padded to their widest cell; columns listed in `right` (by index) are right-aligned
 * (numbers).
 */
export function table(rows: readonly (readonly string[])[], right: readonly number[] = []): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => (right.includes(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** RFC 4180 CSV: a field with a comma, quote or line break is quoted, its quotes doubled. */
export const csv = (rows: readonly (readonly string[])[]): string =>
  rows
    .map((row) =>
      row.map((cell) => (/[",\r\n]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell)).join(','),
    )
    .join('\n');
