import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CreateJobRequest, Job, ObelmClient } from '@obelm/client';
import type { Values } from '../command.ts';
import { jobError } from '../errors.ts';
import { note, printJson } from '../output.ts';
import { progressReporter } from '../progress.ts';

/**
 * What every job command does once its request is built: create the job, follow its progress on stderr, and
 * when it has succeeded download its outputs to files; a job that ends otherwise is exit code 3 with its error.
 */

/** How often the job is polled while it runs: often enough for a bar that moves, light on the API. */
const PROGRESS_POLL_SECONDS = 0.5;

/** Where a job's outputs go: each of the job's output links to the file it is written to. */
export type OutputPlan = (job: Job) => { url: string; file: string }[];

/**
 * Creates the job, waits for it with progress on stderr, writes its outputs as `plan` says and tells where they
 * went (stderr); with --json, the final job is printed on stdout and nothing else is.
 */
export async function runJob(
  client: ObelmClient,
  values: Values,
  request: CreateJobRequest,
  plan: OutputPlan,
): Promise<void> {
  const created = await client.createJob(request);
  const progress = progressReporter();
  // Ctrl-C stops the waiting, not the job: say how to stop that too.
  const interrupted = () => {
    progress.finish();
    note(`stopped waiting; job ${created.id} goes on (obelm jobs cancel ${created.id} stops it)`);
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  let job: Job;
  try {
    job = await client.waitForJob(created.id, {
      onProgress: (j) => progress.update(j),
      progressEverySeconds: PROGRESS_POLL_SECONDS,
    });
  } finally {
    process.off('SIGINT', interrupted);
    progress.finish();
  }
  if (job.status !== 'succeeded') {
    if (values['json']) printJson(job);
    const why = job.error ? `: ${job.error.code}: ${job.error.message}` : '';
    throw jobError(`job ${job.id} ${job.status}${why}`);
  }
  const files = plan(job);
  for (const { url, file } of files) {
    const bytes = await client.download(url);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, bytes);
  }
  if (values['json']) printJson(job);
  note(`job ${job.id} succeeded${measured(job)}: wrote ${files.map((f) => f.file).join(', ') || 'nothing'}`);
}

/** A round trip's error, when the job measured one: what a reconstruction is run for. */
function measured(job: Job): string {
  const m = job.metrics;
  if (m?.latentMaxAbsError === undefined && m?.pixelMse === undefined) return '';
  const parts = [
    ...(m.latentMaxAbsError === undefined
      ? []
      : [`latent max error ${m.latentMaxAbsError.toExponential(2)}`]),
    ...(m.pixelMse === undefined ? [] : [`pixel MSE ${m.pixelMse.toExponential(2)}`]),
  ];
  return ` (${parts.join(', ')})`;
}

/** The file for one output: `-o` when given, else `<default>` in the current folder. */
export function outputFile(values: Values, fallback: string): string {
  return typeof values['output'] === 'string' ? values['output'] : fallback;
}

/** Frames of an interpolation into a folder: `frame-00.png`, `frame-01.png`... */
export function frameFiles(folder: string, count: number, extension: string): string[] {
  const width = String(count - 1).length;
  return Array.from({ length: count }, (_, n) =>
    join(folder, `frame-${String(n).padStart(width, '0')}.${extension}`),
  );
}

/** The extension of a job's images (its output format). */
export const imageExtension = (job: Job): string => job.params.outputFormat;

/** The output link or a clear failure: a succeeded job of that kind always has it. */
export function linkOf(job: Job, output: 'image' | 'noise'): string {
  const link = job.outputs?.[output];
  if (!link) throw new Error(`job ${job.id} succeeded without a ${output} output`);
  return link.url;
}
