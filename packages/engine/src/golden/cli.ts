/**
 * `npm run golden -- <file.json>`: recomputes every case of a golden-vectors file with the engine, prints one line
 * per case with its worst relative deviation, then `N passed, M failed`; exits 1 if any field is out of tolerance.
 */
import { runGoldenFile } from './file.ts';

const path = process.argv[2];
if (!path) {
  console.error('usage: npm run golden -- <vectors.json>');
  process.exit(2);
}
const results = await runGoldenFile(path);
for (const r of results) {
  const worst = r.checks.reduce(
    (a, b) => (b.deviation / (b.tolerance || 1) > a.deviation / (a.tolerance || 1) ? b : a),
    r.checks[0]!,
  );
  const line = `${r.passed ? 'PASS' : 'FAIL'} ${r.id}: ${r.checks.length} fields, worst rel dev ${worst?.deviation.toExponential(2) ?? '-'} (${worst?.field ?? '-'})`;
  console.log(line);
  for (const c of r.checks.filter((c) => !c.passed)) {
    console.log(
      `    ${c.field}: dev ${c.deviation.toExponential(2)} > tol ${c.tolerance}${c.note ? ` (${c.note})` : ''}`,
    );
  }
}
const passed = results.filter((r) => r.passed).length;
console.log(`${passed} passed, ${results.length - passed} failed`);
process.exit(passed === results.length ? 0 : 1);
