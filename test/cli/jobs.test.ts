import { execFile } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobView } from '@obelm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoPng, startTestStack, type TestStack } from '../e2e/helpers.ts';
import { type CliRun, OBELM_BIN, obelm } from './helpers.ts';

/**
 * The job commands (`obelm sample|invert|edit|reconstruct|interpolate`, `obelm jobs ...`, `obelm models`) as a
 * user runs them against `npm start`: the real binary in its own process, finding the local stack through its data
 * folder with no key or URL given; files written, `--json`, exit codes (0, 1 API, 2 usage, 3 job), and progress
 * on stderr off a terminal (plain lines) and on a pseudo-terminal (a bar redrawn with \r).
 */

let t: TestStack;
/** Where the test's input and output files go (also the commands' current folder). */
let work: string;
let redCircle: string;
const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Few steps, each slowed by the worker (300 ms, for the progress tests below), so the file stays quick. */
const STEPS = ['--steps', '4'];
/**
 * The runs whose progress is checked take longer: 8 steps, 2.4 s of running over several of the command's
 * half-second polls, so steps are seen even on a loaded machine.
 */
const PROGRESS_STEPS = ['--steps', '8'];

beforeAll(async () => {
  t = await startTestStack();
  t.spawnWorker({ OBELM_TEST_STEP_DELAY_MS: '300' });
  work = mkdtempSync(join(tmpdir(), 'obelm-cli-jobs-'));
  redCircle = join(work, 'red-circle.png');
  writeFileSync(redCircle, await demoPng({ shape: 'circle', colour: 'red' }));
});
afterAll(async () => {
  await t?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/**
 * The API's URL and key in the environment, as scripts set them (and quicker to start than finding the local
 * stack); the runs that find the stack through its data folder say so.
 */
const apiEnv = () => ({ OBELM_API_URL: t.stack.apiUrl, OBELM_API_KEY: t.stack.devKey });
const run = (...args: string[]) => obelm(t.stack.dataDir, args, apiEnv());
/** With no key or URL at all: the stack found through OBELM_DATA_DIR, as after `npm start`. */
const runFindingStack = (...args: string[]) => obelm(t.stack.dataDir, args);
const isPng = (file: string) => expect([...readFileSync(file).subarray(0, 8)]).toEqual(PNG_MAGIC);
const lines = (text: string) => text.trim().split('\n');
/** The final job of a `--json` run: stdout holds exactly one JSON value. */
const jobOf = (out: CliRun) => JSON.parse(out.stdout) as JobView;

/** A PNG whose header is whole (the API checks it) and whose pixel data is not: the worker cannot decode it. */
function brokenPng(): Buffer {
  const png = Buffer.from(readFileSync(redCircle));
  const idat = png.indexOf('IDAT');
  return png.fill(0xff, idat + 4, png.length - 16);
}

/** The binary in `cwd` (for default output names), with the stack's data folder as the only configuration. */
function obelmIn(cwd: string, args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [OBELM_BIN, ...args],
      { cwd, env: { ...process.env, ...apiEnv(), OBELM_DATA_DIR: t.stack.dataDir } },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe('obelm job commands', () => {
  it('samples to -o with no setup, with plain progress lines on stderr off a terminal', async () => {
    const file = join(work, 'sample.png');
    const out = await runFindingStack(
      'sample',
      '--prompt',
      'red circle',
      '--seed',
      '7',
      ...PROGRESS_STEPS,
      '-o',
      file,
    );
    expect(out.code, out.stderr).toBe(0);
    isPng(file);
    expect(out.stdout).toBe('');
    expect(out.stderr).not.toContain('\r');
    const progress = lines(out.stderr).filter((l) => / running \d+\/8$/.test(l));
    expect(progress.length).toBeGreaterThan(0);
    // One line per step change: no step is printed twice.
    expect(new Set(progress).size).toBe(progress.length);
    expect(lines(out.stderr).at(-1)).toMatch(new RegExp(`^obelm: job \\S+ succeeded: wrote ${file}$`));
  });

  it('prints only the final job with --json, and writes a default-named file in the current folder', async () => {
    const out = await obelmIn(work, ['sample', '--prompt', 'blue square', ...STEPS, '--json']);
    expect(out.code, out.stderr).toBe(0);
    const job = jobOf(out);
    expect(job).toMatchObject({
      kind: 'sample',
      status: 'succeeded',
      params: { steps: 4, prompt: 'blue square' },
    });
    isPng(join(work, `${job.id}.png`));
    expect(lines(out.stderr).at(-1)).toContain(`wrote ${job.id}.png`);
  });

  it('inverts an uploaded image to a .safetensors noise file', async () => {
    const file = join(work, 'noise.safetensors');
    const out = await run('invert', redCircle, '--prompt', 'red circle', ...STEPS, '--json', '-o', file);
    expect(out.code, out.stderr).toBe(0);
    const job = jobOf(out);
    expect(job).toMatchObject({ kind: 'invert', status: 'succeeded' });
    // safetensors: an 8-byte little-endian header length, then the JSON header.
    const bytes = readFileSync(file);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<
      string,
      unknown
    >;
    expect(Object.keys(header).length).toBeGreaterThan(0);
  });

  it('edits an image from one prompt to another, with the sampler and strength asked for', async () => {
    const file = join(work, 'edited.png');
    const out = await run(
      'edit',
      redCircle,
      '--from',
      'red circle',
      '--to',
      'blue circle',
      '--sampler',
      'ddim',
      '--strength',
      '0.5',
      ...STEPS,
      '--json',
      '-o',
      file,
    );
    expect(out.code, out.stderr).toBe(0);
    expect(jobOf(out)).toMatchObject({
      kind: 'edit',
      status: 'succeeded',
      params: {
        sourcePrompt: 'red circle',
        targetPrompt: 'blue circle',
        strength: 0.5,
        sampler: { name: 'ddim' },
      },
    });
    isPng(file);
  });

  it('reconstructs an image and reports the round trip error; interpolates frames into a folder', async () => {
    const file = join(work, 'reconstructed.png');
    const blue = join(work, 'blue-circle.png');
    writeFileSync(blue, await demoPng({ shape: 'circle', colour: 'blue' }));
    const frames = join(work, 'frames');
    const [rec, out] = await Promise.all([
      run('reconstruct', redCircle, '--prompt', 'red circle', ...STEPS, '-o', file),
      run('interpolate', redCircle, blue, '--weights', '0,0.5,1', '--steps', '2', '-o', frames),
    ]);
    expect(rec.code, rec.stderr).toBe(0);
    isPng(file);
    expect(lines(rec.stderr).at(-1)).toMatch(/succeeded \(latent max error [\d.e+-]+/);
    expect(out.code, out.stderr).toBe(0);
    expect(readdirSync(frames).sort()).toEqual(['frame-0.png', 'frame-1.png', 'frame-2.png']);
    for (const frame of readdirSync(frames)) isPng(join(frames, frame));
  });

  it('lists, gets and deletes jobs; `obelm models` shows the demo model', async () => {
    const [listed, models] = await Promise.all([run('jobs', 'list', '--json'), run('models')]);
    expect(listed.code, listed.stderr).toBe(0);
    const jobs = JSON.parse(listed.stdout) as JobView[];
    expect(jobs.map((j) => j.kind)).toEqual(
      expect.arrayContaining(['sample', 'invert', 'edit', 'reconstruct', 'interpolate']),
    );
    expect(jobs.every((j) => j.status === 'succeeded')).toBe(true);
    expect(models.code, models.stderr).toBe(0);
    expect(models.stdout).toMatch(/^demo +pixel /m);

    const [got, deleted] = await Promise.all([
      run('jobs', 'get', jobs[0]!.id),
      run('jobs', 'delete', jobs[1]!.id, '--json'),
    ]);
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout).toMatch(new RegExp(`^ID .*\\n${jobs[0]!.id} +${jobs[0]!.kind} +succeeded`));
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(jobOf(deleted)).toMatchObject({ id: jobs[1]!.id, deletedAt: expect.any(String) });
  });
});

describe('starting from noise; sampler parameters and the negative prompt', () => {
  it("starts edit, sample and interpolate from earlier jobs' noise; --gamma and --negative reach the job", async () => {
    const bdiaOptions = ['--steps', '2', '--sampler', 'bdia', '--gamma', '0.5'];
    const bdia = { steps: 2, sampler: { name: 'bdia', gamma: 0.5 } };
    const [sampled, inverted] = await Promise.all([
      run(
        'sample',
        ...['--prompt', 'red circle', '--seed', '5', ...bdiaOptions, '--negative', 'blue'],
        ...['--json', '-o', join(work, 'bdia.png')],
      ),
      run('invert', redCircle, ...bdiaOptions, '--json', '-o', join(work, 'bdia.noise.safetensors')),
    ]);
    expect(sampled.code, sampled.stderr).toBe(0);
    const sample = jobOf(sampled);
    expect(sample.params).toMatchObject({ ...bdia, negativePrompt: 'blue' });
    expect(inverted.code, inverted.stderr).toBe(0);
    const inversion = jobOf(inverted);

    // What a job took from the noise it started from (none of these commands asks for it) shows where it started;
    // an interpolation's argument that is not a file is a job id, that job's noise one end (a file the other).
    const frames = join(work, 'noise-frames');
    const [edited, resampled, interpolated] = await Promise.all([
      run('edit', '--noise', sample.id, '--to', 'blue circle', '--json', '-o', join(work, 'from-noise.png')),
      run('sample', '--noise', inversion.id, '--json', '-o', join(work, 'resampled.png')),
      run('interpolate', inversion.id, redCircle, '--weights', '0.5', '-o', frames),
    ]);
    expect(edited.code, edited.stderr).toBe(0);
    expect(jobOf(edited)).toMatchObject({
      kind: 'edit',
      params: { ...bdia, sourcePrompt: 'red circle', targetPrompt: 'blue circle', negativePrompt: 'blue' },
    });
    expect(resampled.code, resampled.stderr).toBe(0);
    const resample = jobOf(resampled);
    expect(resample.params).toMatchObject(bdia);
    expect(resample.params).not.toHaveProperty('seed');
    expect(interpolated.code, interpolated.stderr).toBe(0);
    expect(readdirSync(frames)).toEqual(['frame-0.png']);
  });
});

describe('exit codes', () => {
  it('exits 2 in one line on a command line it cannot run', async () => {
    const commands = [
      ['sample', '--bogus'],
      ['sample', '--steps', 'many'],
      ['edit', redCircle],
      ['invert', join(work, 'missing.png')],
      ['interpolate', redCircle, '--weights', '0,x'],
      ['jobs', 'frobnicate'],
      ['sample', '--sampler', 'obelm', '--gamma', '0.5'],
      ['sample', '--sampler', 'edict', '--p', '1'],
      ['edit', redCircle, '--noise', 'job_x', '--to', 'blue circle'],
    ];
    /** What the usage errors of the options added for sampler parameters and noise say. */
    const says: Record<number, RegExp> = {
      6: /--gamma is a parameter of --sampler bdia, not obelm$/,
      7: /--p 1: too big: expected number to be <1$/,
      8: /not both$/,
    };
    const runs = await Promise.all(commands.map((args) => run(...args)));
    runs.forEach((out, n) => {
      expect(out.code, commands[n]!.join(' ')).toBe(2);
      expect(lines(out.stderr), commands[n]!.join(' ')).toHaveLength(1);
      if (says[n]) expect(out.stderr.trim()).toMatch(says[n]!);
    });
  });

  it('exits 1 in one line when the API refuses: an unknown job, steps beyond the model', async () => {
    const [unknown, tooMany] = await Promise.all([
      run('jobs', 'get', 'job_doesnotexist'),
      run('sample', '--steps', '999'),
    ]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^obelm: 404 job_not_found: .*\n$/);
    expect(tooMany.code).toBe(1);
    expect(tooMany.stderr).toMatch(/^obelm: 400 \S+: .*\n$/);
  });

  it('exits 3 with the error code and message when the job fails', async () => {
    const broken = join(work, 'broken.png');
    writeFileSync(broken, brokenPng());
    const out = await run('invert', broken, ...STEPS, '--json');
    expect(out.code, out.stderr).toBe(3);
    expect(jobOf(out).status).toBe('failed');
    expect(lines(out.stderr).at(-1)).toMatch(/^obelm: job \S+ failed: \S+: .+$/);
  });
});

describe('obelm batch', () => {
  it("inverts a folder as one batch: each image's noise and the summary; a failed image is exit 3", async () => {
    const input = join(work, 'batch-in');
    mkdirSync(join(input, 'sub'), { recursive: true });
    copyFileSync(redCircle, join(input, 'red.png'));
    writeFileSync(join(input, 'sub', 'blue.png'), await demoPng({ shape: 'circle', colour: 'blue' }));
    writeFileSync(join(input, 'broken.png'), brokenPng());
    writeFileSync(join(input, 'notes.txt'), 'not an image: not sent');
    const output = join(work, 'batch-out');
    const out = await run('batch', input, ...STEPS, '--json', '-o', output);
    expect(out.code, out.stderr).toBe(3);
    expect(JSON.parse(out.stdout)).toMatchObject({
      status: 'completed',
      jobs: 3,
      counts: { succeeded: 2, failed: 1 },
    });
    expect(lines(out.stderr).at(-1)).toMatch(
      /^obelm: batch \S+: 1 of 3 images did not invert \(\S*broken\.png: \S+: .+\)$/,
    );
    expect(readdirSync(output, { recursive: true, encoding: 'utf8' }).sort()).toEqual([
      'red.png.noise.safetensors',
      'sub',
      'sub/blue.png.noise.safetensors',
      'summary.json',
    ]);
    const summary = JSON.parse(readFileSync(join(output, 'summary.json'), 'utf8')) as { images: unknown[] };
    expect(summary.images).toHaveLength(3);
  });
});

describe('progress on a terminal', () => {
  it('redraws one line with a bar under a pseudo-terminal', async () => {
    const file = join(work, 'tty.png');
    const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
    const command = [process.execPath, OBELM_BIN, 'sample', '--seed', '3', ...PROGRESS_STEPS, '-o', file]
      .map(quote)
      .join(' ');
    // util-linux `script` runs the command on a pseudo-terminal: stderr is a TTY there, as in a user's shell.
    const out = await new Promise<CliRun>((resolve) => {
      execFile(
        'script',
        ['-qfec', command, '/dev/null'],
        { env: { ...process.env, OBELM_API_KEY: '', OBELM_API_URL: '', OBELM_DATA_DIR: t.stack.dataDir } },
        (error, stdout, stderr) =>
          resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
      );
    });
    expect(out.code, out.stdout + out.stderr).toBe(0);
    isPng(file);
    const redraws = out.stdout.split('\r').filter((part) => /\[[#-]{30}\] +\d\/8/.test(part));
    expect(redraws.length).toBeGreaterThan(1);
    expect(out.stdout).toContain('[##############################] 8/8');
    expect(out.stdout).toMatch(/succeeded: wrote /);
  });
});
