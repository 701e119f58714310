/**
 * Scheduler benchmark, host part (issue 14): the host's work between two model calls, which one cohort of jobs
 * leaves the device idle for. 8 guided sample jobs on members of one batcher (16 rows a call), their eps answered
 * at once by a fake model, so the time is the host's alone: each job's step (CFG's doubled input and guided
 * combination, the O-BELM step, the finiteness check) and the batcher's merging and splitting. Measured for the
 * demo's latents and for Stable Diffusion's (4 x 64 x 64, a 77 x 768 embedding a row), whose real calls the bench
 * cannot run here. Rounds of 20 and 60 steps are timed and differenced, so each job's setup (noise, prompt,
 * decode) cancels out. Tens of ms of a GPU UNet call against these ms: what two cohorts hide.
 */
import type { DiffusionModel, Tensor } from '@obelm/engine';
import { sample } from '@obelm/engine';
import { createModelBatcher } from '@obelm/worker/batching';

const JOBS = 8;
const MAX_BATCH_ROWS = 16;
const ROUNDS = 8;

export interface HostWorkFigure {
  readonly name: string;
  /** Median host milliseconds between two model calls of the 8 jobs. */
  readonly msPerCall: number;
}

/** Answers at once, a pure function of x: the host's work is all there is to time. */
const instantEps = async (x: Tensor) => {
  const out = new Float64Array(x.data.length);
  for (let i = 0; i < out.length; i++) out[i] = x.data[i]! * 0.1;
  return out;
};

/** `base` (its schedule and defaults) with the given shapes and the instant eps. */
function shaped(
  base: DiffusionModel,
  latent: readonly number[],
  image: readonly [number, number],
  embRow: readonly number[],
): DiffusionModel {
  const embSize = embRow.reduce((a, b) => a * b, 1);
  return {
    ...base,
    latentShape: [1, ...latent],
    imageSize: image,
    embed: async () => ({ data: new Float32Array(embSize), shape: [1, ...embRow] }),
    decode: async () => new Float64Array(3 * image[0] * image[1]),
    eps: instantEps,
    epsRows: instantEps,
  };
}

async function round(model: DiffusionModel, steps: number): Promise<number> {
  const batcher = createModelBatcher(model, { maxBatchRows: MAX_BATCH_ROWS, mode: 'batched' });
  const start = performance.now();
  await Promise.all(
    Array.from({ length: JOBS }, async (_, seed) => {
      const member = batcher.join();
      try {
        await sample(member.model, { seed, prompt: 'red circle', steps, guidance: 2 });
      } finally {
        member.leave();
      }
    }),
  );
  return performance.now() - start;
}

async function msPerCall(model: DiffusionModel): Promise<number> {
  await round(model, 20); // warm-up
  const perCall: number[] = [];
  for (let r = 0; r < ROUNDS; r++) perCall.push(((await round(model, 60)) - (await round(model, 20))) / 40);
  perCall.sort((a, b) => a - b);
  return perCall[Math.floor(perCall.length / 2)]!;
}

/** The host's milliseconds per call of 8 guided jobs, demo-sized and SD-sized (from `base`'s schedule). */
export async function measureHostWork(base: DiffusionModel): Promise<HostWorkFigure[]> {
  return [
    {
      name: 'demo latents (3 x 32 x 32)',
      msPerCall: await msPerCall(shaped(base, [3, 32, 32], [32, 32], [0])),
    },
    {
      name: 'SD latents (4 x 64 x 64, embedding 77 x 768)',
      msPerCall: await msPerCall(shaped(base, [4, 64, 64], [512, 512], [77, 768])),
    },
  ];
}
