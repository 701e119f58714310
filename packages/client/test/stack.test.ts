import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoPng, startTestStack, type TestStack } from '../../../test/e2e/helpers.ts';
import { createObelmClient, type Job, ObelmApiError, type ObelmClient } from '../src/index.ts';

/**
 * The client against a real local stack with one worker process: jobs end to end, uploads, pages, cancel and
 * delete, usage and models, and the API's error codes. Steps are slowed a little so progress can be seen.
 */

let t: TestStack;
let client: ObelmClient;

beforeAll(async () => {
  t = await startTestStack();
  t.spawnWorker({ OBELM_TEST_STEP_DELAY_MS: '100' });
  client = createObelmClient({ baseUrl: t.stack.apiUrl, apiKey: t.stack.devKey });
});
afterAll(async () => {
  await t?.stop();
});

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

describe('client against the local stack', () => {
  it('lists the models and the usage', async () => {
    const { models } = await client.models();
    expect(models.map((m) => m.id)).toContain('demo');
    const usage = await client.usage();
    expect(usage.month).toMatch(/^\d{4}-\d{2}$/);
  });

  it('samples on the demo model, reporting progress, and downloads the image', async () => {
    const created = await client.createJob({
      kind: 'sample',
      model: 'demo',
      prompt: 'red circle',
      seed: 7,
      steps: 20,
    });
    expect(created.status).toBe('queued');
    const seen: Job[] = [];
    const job = await client.waitForJob(created.id, {
      onProgress: (j) => seen.push(j),
      progressEverySeconds: 0.2,
      timeoutMs: 20_000,
    });
    expect(job.status).toBe('succeeded');
    expect(seen.at(-1)?.status).toBe('succeeded');
    // Each callback is a change, and the running job was seen part way.
    const keys = seen.map((j) => `${j.status}:${j.progress?.step}/${j.progress?.of}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(seen.some((j) => j.status === 'running' && j.progress && j.progress.step < j.progress.of)).toBe(
      true,
    );
    const png = await client.download(job.outputs!.image!.url);
    expect([...png.subarray(0, 8)]).toEqual(PNG_MAGIC);
  });

  it('uploads an image from a Buffer and inverts it', async () => {
    const uploadId = await client.uploadFile(Buffer.from(await demoPng({ shape: 'circle', colour: 'red' })));
    const created = await client.createJob({ kind: 'invert', model: 'demo', image: { uploadId }, steps: 4 });
    const job = await client.waitForJob(created.id, { timeoutMs: 20_000 });
    expect(job.status).toBe('succeeded');
    expect((await client.download(job.outputs!.noise!.url)).length).toBeGreaterThan(0);
  });

  it('uploads from a file path (a job refuses an upload slot that got no file: upload_pending)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'obelm-client-'));
    const path = join(dir, 'in.png');
    writeFileSync(path, await demoPng({ shape: 'square', colour: 'blue' }));
    const uploadId = await client.uploadFile(path);
    rmSync(dir, { recursive: true });
    const job = await client.createJob({ kind: 'reconstruct', model: 'demo', image: { uploadId }, steps: 4 });
    expect(job.status).toBe('queued');
  });

  it('cancels a job, then deletes its data', async () => {
    const created = await client.createJob({
      kind: 'sample',
      model: 'demo',
      prompt: 'blue square',
      steps: 200,
    });
    await client.cancelJob(created.id);
    const job = await client.waitForJob(created.id, { timeoutMs: 20_000 });
    expect(job.status).toBe('canceled');
    const deleted = await client.deleteJob(created.id);
    expect(deleted.deletedAt).toBeDefined();
  });

  it('iterates the job list over several pages', async () => {
    const pages = [];
    for await (const page of client.listJobPages({ limit: 1 })) pages.push(page);
    expect(pages.length).toBeGreaterThanOrEqual(3);
    const ids: string[] = [];
    for await (const job of client.listJobs({ limit: 2 })) ids.push(job.id);
    expect(ids).toEqual(pages.flatMap((p) => p.jobs.map((j) => j.id)));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("throws ObelmApiError with the API's code, details and request id", async () => {
    const invalid = await client
      .createJob({ kind: 'sample', model: 'demo', steps: 1 } as never)
      .catch((err: unknown) => err);
    expect(invalid).toBeInstanceOf(ObelmApiError);
    expect(invalid).toMatchObject({
      status: 400,
      code: 'invalid_request',
    });
    expect((invalid as ObelmApiError).requestId).toBeTruthy();
    await expect(client.getJob('job_missing')).rejects.toMatchObject({ status: 404, code: 'job_not_found' });
    await expect(client.createJob({ kind: 'sample', colour: 'red' } as never)).rejects.toMatchObject({
      code: 'unknown_field',
      details: { field: 'colour' },
    });
  });
});
