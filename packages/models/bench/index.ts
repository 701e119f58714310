/**
 * `npm run bench -w packages/models`: the model-side benchmarks, one table each, printed as they finish.
 *   bundles.ts  demo vs tiny SD bundles side by side: load, per-step model/engine split, CFG batching, memory
 *   cast.ts     float16 host casts on an SD-1.5 CFG latent, before/after the bit-level rewrite
 *   io.ts       image codecs, noise artifact (safetensors) write/read, CLIP tokenisation
 */
import { bundleTable } from './bundles.ts';
import { castTable } from './cast.ts';
import { ioTable } from './io.ts';
import { formatTable, type Table } from './report.ts';

const tables: Array<() => Promise<Table>> = [bundleTable, castTable, ioTable];
const start = performance.now();
for (const table of tables) console.log(`\n${formatTable(await table())}`);
console.log(`\n(bench took ${((performance.now() - start) / 1000).toFixed(1)} s)`);
