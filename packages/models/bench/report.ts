/** What every bench table shares: the table shape, its printing, and the timing and memory helpers. */
import { performance } from 'node:perf_hooks';

export interface Table {
  readonly title: string;
  /** Headings of the value columns (the first column holds the row names). */
  readonly columns: readonly string[];
  readonly rows: ReadonlyArray<readonly [name: string, ...cells: string[]]>;
  readonly notes?: readonly string[];
}

export function formatTable({ title, columns, rows, notes = [] }: Table): string {
  const all = [['', ...columns], ...rows];
  const widths = all[0]!.map((_, c) => Math.max(...all.map((row) => (row[c] ?? '').length)));
  const line = (row: readonly string[]) =>
    row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  const rule = '-'.repeat(widths.reduce((a, b) => a + b + 2, -2));
  return [title, rule, line(all[0]!), rule, ...rows.map(line), rule, ...notes.map((n) => `  ${n}`)].join(
    '\n',
  );
}

/** Wall time of one call, in ms. */
export async function timeMs<T>(fn: () => Promise<T> | T): Promise<[T, number]> {
  const start = performance.now();
  const result = await fn();
  return [result, performance.now() - start];
}

/** Median wall time over `runs` calls, in ms, after a few untimed calls to warm up the JIT. */
export async function medianMs(runs: number, fn: () => unknown): Promise<number> {
  for (let i = 0; i < 3; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push((await timeMs(fn))[1]);
  return median(times);
}

export function median(values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

export const ms = (value: number, digits = 3) => `${value.toFixed(digits)} ms`;
export const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/** Heap high-water mark, sampled wherever `sample()` is called (V8 reports no peak of its own). */
export class HeapPeak {
  private peak = 0;
  sample(): void {
    this.peak = Math.max(this.peak, process.memoryUsage().heapUsed);
  }
  get bytes(): number {
    this.sample();
    return this.peak;
  }
}

/** The process's resident set high-water mark (the kernel's, so nothing is missed between samples). */
export function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024; // reported in KiB
}
