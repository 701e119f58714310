import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { generateSchemaSource, SCHEMA_FILE } from '../scripts/generateTypes.ts';

it('the committed types match the API (else: npm run generate -w @obelm/client)', async () => {
  const fresh = await generateSchemaSource();
  expect(fresh).toContain("'/v1/jobs/{id}'");
  expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(fresh);
});
