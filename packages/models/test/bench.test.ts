/**
 * The bench keeps working: each bundle column runs end to end on tiny counts, and the columns line up row for
 * row (bundles.ts zips them by position). Speed itself is for `npm run bench`, not asserted here.
 */
import { describe, expect, it } from 'vitest';
import { type Column, measureBundle } from '../bench/bundleColumn.ts';
import { formatTable } from '../bench/report.ts';

const tiny = { runs: 1, steps: 2, cfgCalls: 2 };
const msOf = (column: Column, row: string) => Number.parseFloat(column.find(([name]) => name === row)![1]);

describe('bench', () => {
  it('measures the demo and tiny SD bundles into columns with the same rows', async () => {
    const demo = await measureBundle('demo', tiny);
    const sd = await measureBundle('tiny-sd-fp16', tiny);
    expect(sd.map(([name]) => name)).toEqual(demo.map(([name]) => name));
    expect(demo.find(([name]) => name === 'latent shape')![1]).toBe('[1,3,32,32]');
    expect(sd.find(([name]) => name === 'latent shape')![1]).toBe('[1,4,8,8]');
    for (const column of [demo, sd]) {
      for (const guidance of ['g=1', 'g=3, CFG']) {
        const rows = column.map(([name]) => name);
        const at = rows.indexOf(`step, ${guidance}: total`);
        const [total, model, engine] = [0, 1, 2].map((k) => Number.parseFloat(column[at + k]![1]));
        expect(model).toBeGreaterThan(0);
        expect(model! + engine!).toBeCloseTo(total!, 2);
      }
      expect(msOf(column, 'CFG eps: 1 call, B=2')).toBeGreaterThan(0);
      expect(msOf(column, 'peak RSS (maxRSS)')).toBeGreaterThan(0);
    }
  });

  it('formats a table with aligned columns and its notes', () => {
    const text = formatTable({
      title: 'T',
      columns: ['a', 'long heading'],
      rows: [
        ['row', '1 ms', '2 ms'],
        ['longer row', '10 ms', '3 ms'],
      ],
      notes: ['note'],
    });
    const lines = text.split('\n');
    expect(lines[0]).toBe('T');
    expect(new Set(lines.slice(1, 7).map((line) => line.length)).size).toBe(1);
    expect(lines[4]).toBe('row          1 ms          2 ms');
    expect(lines.at(-1)).toBe('  note');
  });
});
