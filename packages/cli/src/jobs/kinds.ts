import { extname } from 'node:path';
import type { CreateJobRequest, ObelmClient } from '@obelm/client';
import { clientOf } from '../api.ts';
import type { Command, Values } from '../command.ts';
import { usageError } from '../errors.ts';
import { inputField, inputRef, interpolationInputs, noiseOption, oneInput } from './inputs.ts';
import {
  commonFields,
  integerOption,
  JOB_OPTIONS,
  JOB_SYNOPSIS,
  numberOption,
  stringOption,
} from './options.ts';
import { frameFiles, imageExtension, linkOf, type OutputPlan, outputFile, runJob } from './run.ts';

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

/** `--noise <job id>`: the kinds that can start from an earlier job's noise artifact take it (inputs.ts). */
const NOISE_OPTION = { noise: { type: 'string' } } as const;

const sample: Command = {
  name: 'sample',
  synopsis: `--prompt <text> [--seed <n> | --noise <job id>] [-o out.png] ${JOB_SYNOPSIS}`,
  summary: "samples an image from a prompt (a random seed unless --seed, or an earlier job's noise)",
  options: { ...JOB_OPTIONS, ...NOISE_OPTION, prompt: { type: 'string' }, seed: { type: 'string' } },
  run: async (values, positionals) => {
    if (positionals.length) throw usageError(`sample takes no files: sample ${sample.synopsis}`);
    const seed = integerOption(values, 'seed');
    const noise = await noiseOption('sample', values);
    const fields = await commonFields(values);
    await run(
      values,
      async (client) =>
        ({
          kind: 'sample',
          ...(noise ? await inputField(client, noise) : {}),
          ...fields,
          ...promptFields(values, 'prompt', 'prompt'),
          ...(seed === undefined ? {} : { seed }),
          ...outputFormat(values),
        }) as CreateJobRequest,
      imageTo(values),
    );
  },
};

const invert: Command = {
  name: 'invert',
  synopsis: `(<image> | --noise <sample job id>) [--prompt <text>] [-o noise.safetensors] ${JOB_SYNOPSIS}`,
  summary: "inverts an image to its starting noise (the job's noise artifact, a .safetensors file)",
  options: { ...JOB_OPTIONS, ...NOISE_OPTION, prompt: { type: 'string' } },
  run: async (values, positionals) => {
    const input = await oneInput(invert, 'invert', values, positionals);
    const fields = await commonFields(values);
    await run(
      values,
      async (client) =>
        ({
          kind: 'invert',
          ...(await inputField(client, input)),
          ...fields,
          ...promptFields(values, 'prompt', 'prompt'),
        }) as CreateJobRequest,
      (job) => [{ url: linkOf(job, 'noise'), file: outputFile(values, `${job.id}.noise.safetensors`) }],
    );
  },
};

const edit: Command = {
  name: 'edit',
  synopsis: `(<image> | --noise <job id>) --to <text> [--from <text>] [--strength <0..1>] [-o out.png] ${JOB_SYNOPSIS}`,
  summary: 'edits an image: inverts it with the --from prompt, regenerates it with the --to prompt',
  options: {
    ...JOB_OPTIONS,
    ...NOISE_OPTION,
    from: { type: 'string' },
    to: { type: 'string' },
    strength: { type: 'string' },
  },
  run: async (values, positionals) => {
    const input = await oneInput(edit, 'edit', values, positionals);
    const targetPrompt = stringOption(values, 'to');
    if (targetPrompt === undefined) throw usageError(`edit needs --to <text>: edit ${edit.synopsis}`);
    const strength = numberOption(values, 'strength');
    const fields = await commonFields(values);
    await run(
      values,
      async (client) =>
        ({
          kind: 'edit',
          ...(await inputField(client, input)),
          targetPrompt,
          ...promptFields(values, 'from', 'sourcePrompt'),
          ...(strength === undefined ? {} : { strength }),
          ...fields,
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
  // --noise too, so that whether a reconstruction can start from noise is core's rules' answer (it cannot).
  options: { ...JOB_OPTIONS, ...NOISE_OPTION, prompt: { type: 'string' } },
  run: async (values, positionals) => {
    const input = await oneInput(reconstruct, 'reconstruct', values, positionals);
    const fields = await commonFields(values);
    await run(
      values,
      async (client) =>
        ({
          kind: 'reconstruct',
          ...(await inputField(client, input)),
          ...fields,
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
  synopsis: `<a> <b> [--weights 0,0.5,1] [--prompt <text>] [-o frames/] ${JOB_SYNOPSIS}`,
  summary: 'interpolates between two noises (an image file or an invert job id each), one frame per weight',
  options: { ...JOB_OPTIONS, weights: { type: 'string' }, prompt: { type: 'string' } },
  run: async (values, positionals) => {
    const [a, b] = await interpolationInputs(interpolate, positionals);
    const weights = weightsOf(stringOption(values, 'weights'));
    const fields = await commonFields(values);
    await run(
      values,
      async (client) =>
        ({
          kind: 'interpolate',
          images: [await inputRef(client, a!), await inputRef(client, b!)],
          ...(weights === undefined ? {} : { weights }),
          ...fields,
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
