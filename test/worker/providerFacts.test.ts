/**
 * The device check's Node part (scripts/device/check.sh): test/bench/providerFacts.ts bundled as prepare.sh
 * bundles it and run with plain node, as it runs on a lent GPU machine where no source tree or tsx exists. It
 * loads the tiny SD bundle, runs the worker's own start-up check over every size and times a batch curve; on
 * the CPU provider the rows are bitwise batch-invariant, so the worker would batch freely and stay exact.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, expect, test } from 'vitest';
import { bundleNodeEntry } from '../../scripts/bundleWorker.ts';
import type { ProviderFacts } from '../bench/providerFacts.ts';

const ENTRY = fileURLToPath(new URL('../bench/providerFacts.ts', import.meta.url));
const NODE_MODULES = fileURLToPath(new URL('../../node_modules', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'obelm-provider-facts-test-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('the bundled provider facts check every size with the worker check and time each batch size', async () => {
  const file = join(dir, 'providerFacts.mjs');
  await bundleNodeEntry(ENTRY, file);
  // Where check.sh unpacks the carried onnxruntime-node.
  symlinkSync(NODE_MODULES, join(dir, 'node_modules'), 'dir');
  const out = join(dir, 'facts.json');
  const args = ['--max-rows', '3', '--curve', '1,3', '--repeats', '1', '--out', out];
  const { stdout } = await promisify(execFile)(process.execPath, [file, ...args], {
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  const facts = JSON.parse(readFileSync(out, 'utf8')) as ProviderFacts;
  expect(facts).toMatchObject({
    provider: 'cpu',
    latentShape: [1, 4, 8, 8],
    maxRows: 3,
    mode: 'batched',
    exact: true,
    mixedTimesteps: true,
    invariantSizes: [1, 2, 3],
    failedSizes: [],
  });
  expect(facts.curve.map((p) => p.rows)).toEqual([1, 3]);
  for (const p of facts.curve) expect(p.msPerCall).toBeGreaterThan(0);
  expect(stdout).toContain('provider facts: cpu mode batched, exact: yes, mixed timesteps: yes');
}, 60_000);
