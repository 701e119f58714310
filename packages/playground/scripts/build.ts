import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildPlaygroundAssets, configFile } from './bundle.ts';

/**
 * `npm run build -w @obelm/playground`: the static site in dist/ (index.html, styles.css, app.js, config.json),
 * for a static host. `OBELM_API_URL` is the deployed API's URL the page calls; unset, the page calls its own
 * origin (a site served behind the API's domain).
 */
const outDir = join(import.meta.dirname, '..', 'dist');
const apiUrl = (process.env['OBELM_API_URL'] ?? '').replace(/\/+$/, '');

await rm(outDir, { recursive: true, force: true });
await mkdir(outDir, { recursive: true });
for (const file of [...(await buildPlaygroundAssets()), configFile({ apiUrl })])
  await writeFile(join(outDir, file.path), file.body);
console.log(`playground: wrote ${outDir} (API ${apiUrl || 'same origin'})`);
