import { existsSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import type { CreateJobRequest, ObelmClient } from '@obelm/client';
import { clientOf } from '../api.ts';
import type { Command, Values } from '../command.ts';
import { usageError } from '../errors.ts';
import {
  commonFields,
  integerOption,
  JOB_OPTIONS,
  JOB_SYNOPSIS,
  numberOption,
  stringOption,
} from './options.ts';
import {
  frameFiles,
  imageExtension,
  linkOf,
  type OutputPlan,
  outputFile,
  runJob,
  uploadedImage,
} from './run.ts';

/**
 * The job commands, one per job kind: `obelm sample|invert|edit|reconstruct|interpolate`. Input images are
 * uploaded (POST /v1/uploads), the job is created and followed, and its outputs are written to `-o` or to a
 * file named after the job in the current folder.
 */

/** Image formats the API writes, by the extension of `-o`; any other extension keeps the default (PNG). */
const FORMAT_OF_EXTENSION = { '.png': 'png', '.webp': 'webp', '.jpg': 'jpeg', '.jpeg': 'jpeg' } as const;

/** The output format `-o`'s extension asks for, as the request's `output` field. */
function outputFormat(values: Values): Pick<CreateJobRequest, 'output'> {
  const file = stringOption(values, 'output');
  const format = file
    ? FORMAT_OF_EXTENSION[extname(file).toLowerCase() as keyof typeof FORMAT_OF_EXTENSION]
    : undefined;
  return format ? { output: { format } } : {};
}

/** The input files a command takes, checked before anything is sent. */
function inputFiles(
  command: Pick<Command, 'name' | 'synopsis'>,
  positionals: string[],
  count: number,
): string[] {
  if (positionals.length !== count) {
    const what = count === 1 ? 'one image file' : `${count} image files`;
    throw usageError(`${command.name} takes ${what}: ${command.name} ${command.synopsis}`);
  }
  for (const file of positionals) {
    if (!existsSync(file) || !statSync(file).isFile()) throw usageError(`no such file: ${file}`);
  }
  return positionals;
}

/** The prompt-like option, or undefined. */
const promptFields = (values: Values, option: string, field: string): Record<string, string> => {
  const value = stringOption(values, option);
  return value === undefined ? {} : { [field]: value };
};

/** The one image output of a job to `-o`, else `<job id>.<format>`. */
const imageTo =
  (values: Values): OutputPlan =>
  (job) => [{ url: linkOf(job, 'image'), file: outputFile(values, `${job.id}.${imageExtension(job)}`) }];

/** Runs a command's request: the client from the options, the request built with it (uploads), the job. */
async function run(
  values: Values,
  build: (client: ObelmClient) => Promise<CreateJobRequest>,
  plan: OutputPlan,
): Promise<void> {
  const client = await clientOf(values);
  await runJob(client, values, await build(client), plan);
}

const sample: Command = {
  name: 'sample',
  synopsis: `--prompt <text> [--seed <n>] [-o out.png] ${JOB_SYNOPSIS}`,
  summary: 'samples an image from a prompt (a random seed unless --seed)',
  options: { ...JOB_OPTIONS, prompt: { type: 'string' }, seed: { type: 'string' } },
  run: async (values, positionals) => {
    if (positionals.length) throw usageError(`sample takes no files: sample ${sample.synopsis}`);
    const seed = integerOption(values, 'seed');
    const request = {
      kind: 'sample',
      ...commonFields(values),
      ...promptFields(values, 'prompt', 'prompt'),
      ...(seed === undefined ? {} : { seed }),
      ...outputFormat(values),
    } as CreateJobRequest;
    await run(values, async () => request, imageTo(values));
  },
};

const invert: Command = {
  name: 'invert',
  synopsis: `<image> [--prompt <text>] [-o noise.safetensors] ${JOB_SYNOPSIS}`,
  summary: "inverts an image to its starting noise (the job's noise artifact, a .safetensors file)",
  options: { ...JOB_OPTIONS, prompt: { type: 'string' } },
  run: async (values, positionals) => {
    const [file] = inputFiles(invert, positionals, 1);
    await run(
      values,
      async (client) =>
        ({
          kind: 'invert',
          image: await uploadedImage(client, file!),
          ...commonFields(values),
          ...promptFields(values, 'prompt', 'prompt'),
        }) as CreateJobRequest,
      (job) => [{ url: linkOf(job, 'noise'), file: outputFile(values, `${job.id}.noise.safetensors`) }],
    );
  },
};

const edit: Command = {
  name: 'edit',
  synopsis: `<image> --to <text> [--from <text>] [--strength <0..1>] [-o out.png] ${JOB_SYNOPSIS}`,
  summary: 'edits an image: inverts it with the --from prompt, regenerates it with the --to prompt',
  options: { ...JOB_OPTIONS, from: { type: 'string' }, to: { type: 'string' }, strength: { type: 'string' } },
  run: async (values, positionals) => {
    const [file] = inputFiles(edit, positionals, 1);
    const targetPrompt = stringOption(values, 'to');
    if (targetPrompt === undefined) throw usageError(`edit needs --to <text>: edit ${edit.synopsis}`);
    const strength = numberOption(values, 'strength');
    await run(
      values,
      async (client) =>
        ({
          kind: 'edit',
          image: await uploadedImage(client, file!),
          targetPrompt,
          ...promptFields(values, 'from', 'sourcePrompt'),
          ...(strength === undefined ? {} : { strength }),
          ...commonFields(values),
          ...outputFormat(values),
        }) as CreateJobRequest,
      imageTo(values),
    );
  },
};

const reconstruct: Command = {
  name: 'reconstruct',
  synopsis: `<image> [--prompt <text>] [-o out.png] ${JOB_SYNOPSIS}`,
  summary: 'inverts an image and samples it back, printing the round trip error (exact with O-BELM)',
  options: { ...JOB_OPTIONS, prompt: { type: 'string' } },
  run: async (values, positionals) => {
    const [file] = inputFiles(reconstruct, positionals, 1);
    await run(
      values,
      async (client) =>
        ({
          kind: 'reconstruct',
          image: await uploadedImage(client, file!),
          ...commonFields(values),
          ...promptFields(values, 'prompt', 'prompt'),
          ...outputFormat(values),
        }) as CreateJobRequest,
      imageTo(values),
    );
  },
};

/** `0,0.5,1` as numbers, or a usage error. */
function weightsOf(value: string | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  const weights = value.split(',').map((w) => (w.trim() === '' ? Number.NaN : Number(w)));
  if (weights.some((w) => !Number.isFinite(w))) {
    throw usageError(`--weights takes numbers separated by commas (0,0.5,1), not '${value}'`);
  }
  return weights;
}

const interpolate: Command = {
  name: 'interpolate',
  synopsis: `<image a> <image b> [--weights 0,0.5,1] [--prompt <text>] [-o frames/] ${JOB_SYNOPSIS}`,
  summary: "interpolates between two images' noises: one frame per weight, written into a folder",
  options: { ...JOB_OPTIONS, weights: { type: 'string' }, prompt: { type: 'string' } },
  run: async (values, positionals) => {
    const [a, b] = inputFiles(interpolate, positionals, 2);
    const weights = weightsOf(stringOption(values, 'weights'));
    await run(
      values,
      async (client) =>
        ({
          kind: 'interpolate',
          images: [await uploadedImage(client, a!), await uploadedImage(client, b!)],
          ...(weights === undefined ? {} : { weights }),
          ...commonFields(values),
          ...promptFields(values, 'prompt', 'prompt'),
        }) as CreateJobRequest,
      (job) => {
        const links = job.outputs?.images ?? [];
        const files = frameFiles(outputFile(values, job.id), links.length, imageExtension(job));
        return links.map((link, n) => ({ url: link.url, file: files[n]! }));
      },
    );
  },
};

/** The job commands, in the order the help lists them. */
export const JOB_COMMANDS: readonly Command[] = [sample, edit, invert, reconstruct, interpolate];
