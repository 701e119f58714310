import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openApiDocument } from '@obelm/api';
import openapiTS, { astToString, COMMENT_HEADER, type OpenAPI3 } from 'openapi-typescript';

/** The client package's root and the repository's (biome runs from the latter, with its biome.json). */
const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
const REPO_DIR = join(PACKAGE_DIR, '..', '..');
/** Where the generated types live, committed: the client type-checks against them. */
export const SCHEMA_FILE = join(PACKAGE_DIR, 'src', 'schema.ts');

/**
 * The source of src/schema.ts: openapi-typescript's types of the API's OpenAPI document (built from the
 * route specs, no server), formatted by biome as the repository's check wants it, so regenerating is
 * byte-for-byte stable and a test can compare it with the committed file.
 */
export async function generateSchemaSource(): Promise<string> {
  const ast = await openapiTS(openApiDocument() as unknown as OpenAPI3, { silent: true });
  const raw = COMMENT_HEADER + astToString(ast);
  return formatWithBiome(raw);
}

/** biome's formatter over stdin, with the repository's settings, as if the text were src/schema.ts. */
function formatWithBiome(source: string): string {
  const biome = join(REPO_DIR, 'node_modules', '.bin', 'biome');
  const result = spawnSync(biome, ['format', `--stdin-file-path=${SCHEMA_FILE}`], {
    cwd: REPO_DIR,
    input: source,
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`biome format failed: ${result.stderr || result.stdout}`);
  return result.stdout;
}

// `npm run generate -w @obelm/client`: write the file (not when a test imports this module).
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(SCHEMA_FILE, await generateSchemaSource());
  console.log(`wrote ${SCHEMA_FILE}`);
}
