import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { IdSchema, type ModelEntry, s3Keys } from '@obelm/core';
import type { BundleValidation, ValidateOptions } from '@obelm/models';
import { listModels, publishModel } from '@obelm/store';
import { type UploadReport, uploadBundle } from './bundleUpload.ts';
import { type Command, integerOption, oneArgument, type Values } from './command.ts';
import { CliError, usageError } from './errors.ts';
import { table } from './format.ts';
import { note, print, printJson } from './output.ts';
import { type BundleTarget, localBundleTarget, stageBundleTarget } from './target.ts';

/**
 * `obelm admin models ...`: install a model bundle (validate it, upload it to `models/<id>/` of the bucket, publish
 * its catalog entry) and list the catalog, on the running local stack or, with `--stage <name>`, a deployed stage.
 */

const STAGE = { stage: { type: 'string' } } as const;
const JSON_OUTPUT = { json: { type: 'boolean' } } as const;

/** The built-in demo model: nothing to upload (workers build it), only its catalog entry to publish. */
const DEMO = 'demo';

/** Runs `body` against the stage or the local stack, and closes its clients after. */
async function onTarget<T>(values: Values, body: (target: BundleTarget) => Promise<T>): Promise<T> {
  const stage = typeof values['stage'] === 'string' ? values['stage'] : undefined;
  const target = stage ? await stageBundleTarget(stage) : localBundleTarget();
  try {
    return await body(target);
  } finally {
    target.close();
  }
}

/** An id jobs can name (core IdSchema), or a usage error. */
function idOption(option: string, value: string): string {
  if (!IdSchema.safeParse(value).success) {
    throw usageError(`--${option} takes ids of 1-64 characters of A-Z a-z 0-9 _ -, not '${value}'`);
  }
  return value;
}

const addCommand: Command = {
  name: 'add',
  synopsis:
    '<folder | demo> --id <id> [--tenants a,b] [--description <text>] [--threads <n>] [--json] [--stage <name>]',
  summary:
    'checks a bundle (load checks, round trips within 1e-8), uploads it to models/<id>/, publishes its entry',
  options: {
    ...STAGE,
    ...JSON_OUTPUT,
    id: { type: 'string' },
    tenants: { type: 'string' },
    description: { type: 'string' },
    threads: { type: 'string' },
  },
  run: async (values, positionals) => {
    const folder = oneArgument(addCommand, positionals);
    const isDemo = folder === DEMO;
    const id = typeof values['id'] === 'string' ? idOption('id', values['id']) : isDemo ? DEMO : undefined;
    if (id === undefined) throw usageError(`add needs --id <id>: the id jobs name the model by`);
    if (isDemo && id !== DEMO) throw usageError(`the built-in demo is always id '${DEMO}', not '${id}'`);
    const tenants =
      typeof values['tenants'] === 'string'
        ? values['tenants']
            .split(',')
            .map((tenant) => tenant.trim())
            .filter(Boolean)
            .map((tenant) => idOption('tenants', tenant))
        : undefined;
    const threads = typeof values['threads'] === 'string' ? integerOption('threads', values['threads']) : 1;
    if (threads < 1) throw usageError('--threads takes at least 1');
    const dir = isDemo ? DEMO : resolve(folder);
    if (!isDemo && !isFolder(dir)) throw new CliError(`no bundle folder at ${dir}`);
    const json = values['json'] === true;

    // The target first: a stack that is not running is told before minutes of checks, not after.
    return onTarget(values, async (target) => {
      if (!json)
        print(`checking ${dir} (loads it and runs short round trips; minutes for a real model on a CPU)`);
      const validation = await validate(dir, {
        id,
        tenants,
        description: typeof values['description'] === 'string' ? values['description'] : undefined,
        runtime: { provider: 'cpu', threads },
        // Checks are the result in text, progress beside the JSON report.
        onCheck: json ? note : (check) => print(`  ok  ${check}`),
      });
      const uploaded = isDemo ? undefined : await upload(target, dir, id);
      const entry = await publishModel(target.store, validation.entry);
      if (json) return printJson(installReport(target, entry, validation, uploaded));
      print(
        `installed ${entry.id} on ${target.name}: jobs name it "model": "${entry.id}" ` +
          '(the API sees a new or changed entry within 30 s)',
      );
    });
  },
};

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The bundle checked; any failure (the bundle's, or its runtime's on it) is a refusal told in one line. */
async function validate(dir: string, options: ValidateOptions): Promise<BundleValidation> {
  // Loaded only here: onnxruntime and image codecs cost every other command a third of a second at start.
  const { validateBundle } = await import('@obelm/models');
  try {
    return await validateBundle(dir, options);
  } catch (error) {
    const reason = String((error as Error)?.message ?? error).replace(/\s*\n\s*/g, ' ');
    throw new CliError(`refused ${dir}, nothing installed: ${reason}`);
  }
}

/** The folder copied to the model's prefix (files streamed, stale objects removed), told as it goes. */
async function upload(target: BundleTarget, dir: string, id: string): Promise<UploadReport> {
  const prefix = s3Keys.model(id);
  note(`uploading ${dir} to s3://${target.bucket}/${prefix}`);
  const report = await uploadBundle(target.s3, { bucket: target.bucket, prefix }, dir, {
    onFile: (file) => note(`  ${file.path} (${inWords(file.size)})`),
  });
  note(
    `uploaded ${report.files.length} files (${inWords(report.bytes)})` +
      (report.removed.length ? `; removed ${report.removed.join(', ')}, no longer in the folder` : ''),
  );
  return report;
}

function installReport(
  target: BundleTarget,
  entry: ModelEntry,
  validation: BundleValidation,
  uploaded: UploadReport | undefined,
) {
  return {
    target: target.name,
    entry,
    checks: validation.checks,
    roundTripError: validation.roundTripError,
    ...(validation.imageRoundTripError === undefined
      ? {}
      : { imageRoundTripError: validation.imageRoundTripError }),
    uploaded: uploaded
      ? {
          location: `s3://${target.bucket}/${s3Keys.model(entry.id)}`,
          files: uploaded.files.map((file) => file.path),
          bytes: uploaded.bytes,
          removed: uploaded.removed,
        }
      : null,
  };
}

/** A size for people: `1.5 GB`, `320 kB`, `12 B` (decimal units). */
function inWords(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

const listCommand: Command = {
  name: 'list',
  synopsis: '[--json] [--stage <name>]',
  summary: 'the catalog: each model with its kind, image size, step and guidance limits, and tenants',
  options: { ...STAGE, ...JSON_OUTPUT },
  run: async (values, positionals) => {
    if (positionals.length) throw usageError(`list takes no arguments: list ${listCommand.synopsis}`);
    return onTarget(values, async (target) => {
      const entries = await listModels(target.store);
      if (values['json']) return printJson(entries);
      if (!entries.length) return print(`no models in the catalog of ${target.name}`);
      print(
        table([
          ['ID', 'KIND', 'IMAGE', 'STEPS', 'GUIDANCE', 'TENANTS'],
          ...entries.map((e) => [
            e.id,
            e.kind,
            `${e.imageSize[0]}x${e.imageSize[1]}`,
            `${e.limits.minSteps}-${e.limits.maxSteps} (default ${e.defaults.steps})`,
            `<= ${e.limits.maxGuidance} (default ${e.defaults.guidance})`,
            e.tenants ? e.tenants.join(',') : 'all',
          ]),
        ]),
      );
    });
  },
};

export const MODEL_COMMANDS: readonly Command[] = [addCommand, listCommand];
