import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { type Batch, type CreatedBatch, type ObelmClient, sniffImageType } from '@obelm/client';
import { clientOf } from '../api.ts';
import type { Command } from '../command.ts';
import { CliError, jobError, usageError } from '../errors.ts';
import { note, printJson } from '../output.ts';
import { progressReporter } from '../progress.ts';
import { commonFields, JOB_OPTIONS, JOB_SYNOPSIS, stringOption } from './options.ts';

/**
 * `obelm batch <folder> -o <folder>`: inverts every image of a folder as one batch (docs/batches.md). The images
 * are uploaded under the batch's prefix with its presigned form (each one starts an invert job there), the
 * batch is followed until complete, and each image's noise is written to the output folder under the image's
 * name (`a.png` -> `a.png.noise.safetensors`, sub-folders kept), beside the batch's summary.json.
 */

/** The image types the batch's form takes, by extension: the type of a file whose bytes say none. */
const TYPE_OF_EXTENSION: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
};
const POLL_MS = 500;

/** One line of the batch's summary.json (core BatchSummaryEntry). */
interface SummaryEntry {
  key: string;
  jobId: string;
  status: string;
  error?: { code: string; message: string };
}

/** The image files under `folder`, by their path relative to it (sub-folders included), in name order. */
function imagesIn(folder: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(folder, { recursive: true, encoding: 'utf8' });
  } catch {
    throw usageError(`no such folder: ${folder}`);
  }
  return entries.filter((name) => extname(name).toLowerCase() in TYPE_OF_EXTENSION).sort();
}

/** Sends one image through the batch's presigned form, under `prefix` + its name (every field, the file last). */
async function uploadToBatch(created: CreatedBatch, name: string, bytes: Uint8Array): Promise<void> {
  const form = new FormData();
  // The form's own `key` is a template (`…/${filename}`): this image's key replaces it.
  const key = `${created.prefix}${name.split('\\').join('/')}`;
  for (const [field, value] of Object.entries(created.upload.fields)) {
    form.append(field, field === 'key' ? key : value);
  }
  if (!('key' in created.upload.fields)) form.append('key', key);
  // The form's policy takes images only, by the Content-Type field sent before the file.
  const type = sniffImageType(bytes) ?? TYPE_OF_EXTENSION[extname(name).toLowerCase()]!;
  form.append('Content-Type', type);
  form.append('file', new Blob([bytes], { type }), name);
  const response = await fetch(created.upload.url, { method: 'POST', body: form });
  if (!response.ok) {
    const text = await response.text().catch(() => '');
    throw new CliError(`upload of ${name} refused (${response.status}): ${text.slice(0, 300)}`);
  }
}

/** Polls the batch until complete, showing images ended out of images sent. */
async function waitForBatch(client: ObelmClient, id: string, total: number): Promise<Batch> {
  const progress = progressReporter();
  try {
    for (;;) {
      const batch = await client.batches.get(id);
      const ended = ['succeeded', 'failed', 'canceled', 'expired'].reduce(
        (n, s) => n + (batch.counts[s] ?? 0),
        0,
      );
      progress.update({ id, status: batch.status, progress: { step: ended, of: total } });
      if (batch.status === 'completed') return batch;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  } finally {
    progress.finish();
  }
}

export const batchCommand: Command = {
  name: 'batch',
  synopsis: `<folder> [-o <folder>] [--prompt <text>] ${JOB_SYNOPSIS}`,
  summary: "inverts every image of a folder as one batch; each image's noise into the output folder",
  options: { ...JOB_OPTIONS, prompt: { type: 'string' } },
  run: async (values, positionals) => {
    if (positionals.length !== 1) throw usageError(`batch takes one folder: batch ${batchCommand.synopsis}`);
    const folder = positionals[0]!;
    const names = imagesIn(folder);
    if (!names.length) throw usageError(`no images (.png, .jpg, .jpeg, .webp) in ${folder}`);
    const fields = await commonFields(values);
    const client = await clientOf(values);
    const prompt = stringOption(values, 'prompt');
    const created = await client.batches.create({
      ...fields,
      ...(prompt === undefined ? {} : { prompt }),
      // Closes itself once every image has started its job.
      expectedImages: names.length,
    });
    for (const name of names) await uploadToBatch(created, name, readFileSync(join(folder, name)));
    const batch = await waitForBatch(client, created.id, names.length);
    if (!batch.summary) throw new CliError(`batch ${batch.id} completed without a summary`);

    const out = stringOption(values, 'output') ?? batch.id;
    const summaryBytes = await client.download(batch.summary.url);
    const summary = JSON.parse(new TextDecoder().decode(summaryBytes)) as { images: SummaryEntry[] };
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'summary.json'), summaryBytes);
    const written: string[] = [];
    for (const entry of summary.images.filter((e) => e.status === 'succeeded')) {
      const job = await client.getJob(entry.jobId);
      if (!job.outputs?.noise) continue;
      const name = entry.key.startsWith(created.prefix) ? entry.key.slice(created.prefix.length) : entry.key;
      const file = join(out, `${name}.noise.safetensors`);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, await client.download(job.outputs.noise.url));
      written.push(file);
    }
    if (values['json']) printJson(batch);
    const failed = summary.images.filter((e) => e.status !== 'succeeded');
    note(`batch ${batch.id} completed: wrote ${written.length} noise files and summary.json to ${out}`);
    if (failed.length) {
      const first = failed[0]!;
      const why = first.error ? `${first.error.code}: ${first.error.message}` : first.status;
      throw jobError(
        `batch ${batch.id}: ${failed.length} of ${summary.images.length} images did not invert (${first.key}: ${why})`,
      );
    }
  },
};
