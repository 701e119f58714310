/** The golden runner's file side: a golden-vectors JSON file read from disk and recomputed (runner.ts). */
import { readFile } from 'node:fs/promises';
import { type CaseResult, runGolden } from './runner.ts';

/** Recomputes every case of the golden-vectors file at `path` (the format of test/fixtures/belm_vectors.json). */
export async function runGoldenFile(path: string | URL): Promise<CaseResult[]> {
  return runGolden(JSON.parse(await readFile(path, 'utf8')));
}
