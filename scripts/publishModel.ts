/**
 * Publishes a model bundle's catalog entry, so the API accepts jobs for it (docs/deploy.md, "Upload a model
 * bundle"). The entry is derived from the bundle's manifest: its obelm.json, or for a diffusers/optimum export
 * without one the manifest the worker infers. Prints the entry written.
 *
 *   npx tsx scripts/publishModel.ts <bundle folder | demo> --table <table>
 *     [--id <id>] [--tenants a,b] [--description <text>]
 *
 * `--id` is the id jobs name the model by, i.e. its `models/<id>/` folder in the bucket (default: the bundle
 * folder's name; 'demo' for the built-in demo). The region, credentials and any endpoint come from the AWS
 * environment (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_DYNAMODB, ...). `--description` replaces the
 * manifest's (an inferred one names the local folder).
 */
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { publishModel } from '@obelm/api';
import {
  catalogEntryOf,
  demoManifest,
  inferSdManifest,
  isSdExport,
  MANIFEST_FILE,
  readManifest,
} from '@obelm/models';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    table: { type: 'string' },
    id: { type: 'string' },
    tenants: { type: 'string' },
    description: { type: 'string' },
  },
});
const [bundle] = positionals;
if (!bundle || !values.table || positionals.length > 1) {
  console.error(
    'usage: tsx scripts/publishModel.ts <bundle folder | demo> --table <table> [--id <id>] [--tenants a,b] [--description <text>]',
  );
  process.exit(2);
}

const isDemo = bundle === 'demo';
const dir = resolve(bundle);
// The worker's rule (loadBundle): obelm.json when present, else an SD export's inferred manifest.
const manifest = isDemo
  ? demoManifest()
  : !existsSync(join(dir, MANIFEST_FILE)) && (await isSdExport(dir))
    ? await inferSdManifest(dir)
    : await readManifest(dir);
const tenants = values.tenants
  ?.split(',')
  .map((tenant) => tenant.trim())
  .filter(Boolean);
const { description } = values;
const entry = catalogEntryOf(description ? { ...manifest, description } : manifest, {
  id: values.id ?? (isDemo ? 'demo' : basename(dir)),
  ...(tenants ? { tenants } : {}),
});

const db = DynamoDBDocumentClient.from(new DynamoDBClient({}));
try {
  console.log(JSON.stringify(await publishModel(db, values.table, entry), null, 2));
} finally {
  db.destroy();
}
