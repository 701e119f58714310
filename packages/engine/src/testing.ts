/**
 * @obelm/engine/testing: the golden-vectors runner, for tests and `npm run golden`. Kept out of the main entry
 * point, which is pure math with no I/O.
 */
export { runGoldenFile } from './golden/file.ts';
export { type CaseResult, runGolden } from './golden/runner.ts';
