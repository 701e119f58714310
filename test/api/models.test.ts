import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { CATALOG_TTL_MS, createModelCatalog, publishModel } from '@obelm/api';
import { dbKeys, type ModelEntry, ModelListSchema, priceOf } from '@obelm/core';
import { type LocalStack, startLocalStack } from '@obelm/local';
import { catalogEntryOf, DEMO_VOCABULARY, demoManifest, inferSdManifest, loadBundle } from '@obelm/models';
import { writeTinySdBundle } from '@obelm/models/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addApiKey, call } from './helpers.ts';

let stack: LocalStack;
let dataDir: string;
/** An SD export's entry, from the manifest the worker infers for it (guidance capped at 10 there). */
let sd: ModelEntry;
/** A model only tenant 'acme' may use. */
let acmeOnly: ModelEntry;
/** A key of tenant 'acme'. */
let acmeKey: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'obelm-models-'));
  stack = await startLocalStack({ dataDir, port: 0, worker: false });
  const sdDir = join(dataDir, 'tiny-sd');
  await writeTinySdBundle(sdDir);
  sd = catalogEntryOf(await inferSdManifest(sdDir), { id: 'tiny-sd' });
  acmeOnly = catalogEntryOf(demoManifest(), { id: 'acme-shapes', tenants: ['acme'] });
  // Published before the first request: the API caches the catalog for 30 s.
  for (const entry of [sd, acmeOnly]) await publishModel(stack.deps.store, entry);
  acmeKey = await addApiKey(stack, 'acme');
});
afterAll(async () => {
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('model catalog', () => {
  it("publishes the demo's entry at start, equal to the entry of the manifest the worker loads", async () => {
    const { Item } = await stack.deps.db.send(
      new GetCommand({ TableName: stack.deps.config.OBELM_TABLE, Key: dbKeys.model('demo') }),
    );
    const { pk: _pk, sk: _sk, ...published } = Item ?? {};
    const model = await loadBundle('demo', { provider: 'cpu', cacheDir: join(dataDir, 'models') });
    try {
      expect(published).toEqual(catalogEntryOf(model.manifest, { id: 'demo' }));
    } finally {
      await model.close();
    }
  });

  it("GET /v1/models lists the caller's models with the limits and defaults of their manifests", async () => {
    const res = await call(stack, 'GET', '/v1/models');
    expect(res.status).toBe(200);
    const { models } = ModelListSchema.parse(res.body);
    expect(models.map((m) => m.id)).toEqual(['demo', 'tiny-sd']);
    // Each with its price from the stage's table (the local default).
    const price = (id: string) => priceOf(stack.deps.config.OBELM_PRICES, id);
    expect(models[0]).toEqual({ ...catalogEntryOf(demoManifest(), { id: 'demo' }), price: price('demo') });
    expect(models[0]).toMatchObject({ limits: { maxSteps: 200, maxGuidance: 3 }, defaults: { steps: 20 } });
    expect(models[1]).toEqual({ ...sd, price: price(sd.id) });
    // The demo's prompts are made of its label words; an SD model's are free text.
    expect(models[0]!.vocabulary).toEqual([...DEMO_VOCABULARY]);
    expect(models[0]!.vocabulary).toEqual(expect.arrayContaining(['circle', 'red', 'navy', 'left']));
    expect(models[1]).not.toHaveProperty('vocabulary');
  });

  it('shows a tenant-restricted model to its tenants only, without the tenant list', async () => {
    const acme = await call(stack, 'GET', '/v1/models', { key: acmeKey });
    const { models } = ModelListSchema.parse(acme.body);
    const { tenants: _, ...shown } = acmeOnly;
    expect(models.find((m) => m.id === acmeOnly.id)).toEqual({
      ...shown,
      price: priceOf(stack.deps.config.OBELM_PRICES, acmeOnly.id),
    });

    const job = { kind: 'sample', model: acmeOnly.id, prompt: 'red circle', seed: 1 };
    const other = await call(stack, 'POST', '/v1/jobs', { body: job });
    expect(other.status).toBe(400);
    expect(other.body.error.code).toBe('unknown_model');
    expect(other.body.error.details.allowed).not.toContain(acmeOnly.id);
    expect((await call(stack, 'POST', '/v1/jobs', { key: acmeKey, body: job })).status).toBe(202);
  });

  it("enforces the manifest's limits: an SD bundle caps guidance at 10, the demo steps at 200", async () => {
    const sample = (extra: object) => ({ kind: 'sample', prompt: 'a cat', seed: 1, ...extra });
    const tooStrong = await call(stack, 'POST', '/v1/jobs', {
      body: sample({ model: 'tiny-sd', guidance: 15 }),
    });
    expect(tooStrong.status).toBe(400);
    expect(tooStrong.body.error).toMatchObject({
      code: 'guidance_out_of_range',
      details: { field: 'guidance', min: 0, max: 10 },
    });
    const atCap = await call(stack, 'POST', '/v1/jobs', { body: sample({ model: 'tiny-sd', guidance: 10 }) });
    expect(atCap.status).toBe(202);

    const tooLong = await call(stack, 'POST', '/v1/jobs', { body: sample({ model: 'demo', steps: 201 }) });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error).toMatchObject({
      code: 'steps_out_of_range',
      details: { field: 'steps', min: 2, max: 200 },
    });
  });

  it('is read once per 30 s per container; an invalid item fails the read and is not kept', async () => {
    const table = stack.deps.config.OBELM_TABLE;
    let clock = 0;
    const catalog = createModelCatalog(stack.deps.db, table, { now: () => clock });
    expect(await catalog.get('demo')).toBeDefined();
    const late = { ...sd, id: 'published-late' };
    await publishModel(stack.deps.store, late);
    clock = CATALOG_TTL_MS - 1;
    expect(await catalog.get(late.id)).toBeUndefined();
    clock = CATALOG_TTL_MS;
    expect(await catalog.get(late.id)).toEqual(late);
    expect(await catalog.get(acmeOnly.id, 'dev')).toBeUndefined();
    expect(await catalog.get(acmeOnly.id, 'acme')).toEqual(acmeOnly);

    const broken = dbKeys.model('broken');
    await stack.deps.db.send(new PutCommand({ TableName: table, Item: { ...broken, id: 'broken' } }));
    try {
      clock = 2 * CATALOG_TTL_MS;
      await expect(catalog.list('dev')).rejects.toThrow(/MODEL#broken/);
    } finally {
      await stack.deps.db.send(new DeleteCommand({ TableName: table, Key: broken }));
    }
    expect((await catalog.list('dev')).map((m) => m.id)).toContain(late.id);
  });
});
