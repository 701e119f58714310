import { existsSync, statSync } from 'node:fs';
import type { ObelmClient } from '@obelm/client';
import type { JobKind } from '@obelm/core';
import type { Command, Values } from '../command.ts';
import { usageError } from '../errors.ts';
import { stringOption } from './options.ts';

/**
 * A job's inputs as the command line gives them: image files, uploaded before the job is created, or an earlier
 * job's noise artifact, by its job id (`--noise <job id>`; for interpolate, an argument that is not a file).
 * Which kinds start from noise is core's artifact rules' to say (acceptedArtifacts); which artifact fits which
 * kind, and the settings it fixes, is the API's to check when the job is created.
 */

export type Input = { file: string } | { noiseOf: string };

const isFile = (path: string) => existsSync(path) && statSync(path).isFile();

/** The noise of job `jobId` as an input of a `kind` job, or a usage error: a kind that takes none, not an id. */
async function noiseInput(kind: JobKind, jobId: string, notAnId: string): Promise<Input> {
  // Loaded only here: a job command with image inputs never needs the schemas.
  const { acceptedArtifacts, IdSchema } = await import('@obelm/core');
  if (!acceptedArtifacts(kind).length) throw usageError(`${kind} takes an image, not --noise`);
  if (!IdSchema.safeParse(jobId).success) throw usageError(notAnId);
  return { noiseOf: jobId };
}

/** Exactly `count` image files, checked before anything is sent. */
export function inputFiles(
  command: Pick<Command, 'name' | 'synopsis'>,
  positionals: string[],
  count: number,
): string[] {
  if (positionals.length !== count) {
    const what = count === 1 ? 'one image file' : `${count} image files`;
    throw usageError(`${command.name} takes ${what}: ${command.name} ${command.synopsis}`);
  }
  for (const file of positionals) {
    if (!isFile(file)) throw usageError(`no such file: ${file}`);
  }
  return positionals;
}

/** `--noise <job id>` when given: the input of a command that takes no image (sample). */
export async function noiseOption(kind: JobKind, values: Values): Promise<Input | undefined> {
  const jobId = stringOption(values, 'noise');
  return jobId === undefined ? undefined : noiseInput(kind, jobId, `--noise takes a job id, not '${jobId}'`);
}

/** The one input of a command that takes an image file or `--noise <job id>`, not both. */
export async function oneInput(
  command: Pick<Command, 'name' | 'synopsis'>,
  kind: JobKind,
  values: Values,
  positionals: string[],
): Promise<Input> {
  if (values['noise'] !== undefined && positionals.length) {
    throw usageError(`${command.name} takes an image file or --noise <job id>, not both`);
  }
  return (await noiseOption(kind, values)) ?? { file: inputFiles(command, positionals, 1)[0]! };
}

/** The two ends of an interpolation: each an image file, or else the id of a job whose noise it is. */
export async function interpolationInputs(
  command: Pick<Command, 'name' | 'synopsis'>,
  positionals: string[],
): Promise<Input[]> {
  if (positionals.length !== 2) {
    throw usageError(`${command.name} takes two images or job ids: ${command.name} ${command.synopsis}`);
  }
  return Promise.all(
    positionals.map((arg) =>
      isFile(arg)
        ? ({ file: arg } as Input)
        : noiseInput('interpolate', arg, `no such file, nor a job id: ${arg}`),
    ),
  );
}

/** An input as the request's reference to it: a file is uploaded first (never sent inline), noise is its job. */
export async function inputRef(
  client: ObelmClient,
  input: Input,
): Promise<{ uploadId: string } | { jobId: string }> {
  return 'file' in input ? { uploadId: await client.uploadFile(input.file) } : { jobId: input.noiseOf };
}

/** The one input as the request's `image` or `noise` field. */
export async function inputField(
  client: ObelmClient,
  input: Input,
): Promise<{ image: { uploadId: string } } | { noise: { jobId: string } }> {
  return 'file' in input
    ? { image: { uploadId: await client.uploadFile(input.file) } }
    : { noise: { jobId: input.noiseOf } };
}
