/**
 * The bundle table: the demo bundle and the tiny SD-layout bundle (fp32 and fp16) side by side. Each column is
 * measured in a forked process (bundleColumn.ts), so the peak RSS of one bundle does not include another's.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type BundleKind, bundleKinds, type Column, fullCounts } from './bundleColumn.ts';
import type { Table } from './report.ts';

const columnScript = fileURLToPath(new URL('./bundleColumn.ts', import.meta.url));

export async function bundleTable(): Promise<Table> {
  const columns: Column[] = [];
  for (const kind of bundleKinds) columns.push(await forkColumn(kind)); // one at a time: no CPU contention
  const rows = columns[0]!.map(([name], r) => [name, ...columns.map((column) => column[r]![1])] as const);
  return {
    title:
      `Bundles (cpu provider, 1 thread): sample N=${fullCounts.steps}, mean per step over ${fullCounts.runs} ` +
      `seeds; CFG eps: medians of ${fullCounts.cfgCalls}`,
    columns: ['demo (pixel)', 'tiny SD fp32', 'tiny SD fp16'],
    rows,
    notes: [
      'model = time inside the eps calls (host casts + onnxruntime); engine = step - model (sampler',
      'arithmetic, CFG combination, state bookkeeping); embed and decode run once per image and are left out.',
      'bundle write: demo = render dataset + build graph + write; tiny SD = 4 random-weight ONNX models + tokenizer.',
      'peak RSS is the kernel high-water mark (resourceUsage().maxRSS) of the process that measured the column.',
    ],
  };
}

/** Runs bundleColumn.ts for one bundle in a child process (inheriting tsx's loader flags) and collects its column. */
function forkColumn(kind: BundleKind): Promise<Column> {
  return new Promise((resolve, reject) => {
    let column: Column | undefined;
    const child = fork(columnScript, [kind], { stdio: 'inherit' });
    child.on('message', (message) => {
      column = message as Column;
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      column
        ? resolve(column)
        : reject(new Error(`bench column '${kind}' exited with ${code} and no result`)),
    );
  });
}
