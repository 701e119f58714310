import type { JobInput } from '@obelm/core';
import type { DiffusionModel } from '@obelm/engine';
import { decodeImage, readNoiseArtifact } from '@obelm/models';
import type { BlobStore } from '../aws/blobs.ts';
import type { RunInput } from './runner.ts';

/**
 * Fetches and decodes a job's inputs: images to pixels at the model's size, noise files to artifacts.
 * Bad bytes throw the codecs' typed errors (invalid_image, noise_*), which fail the job with that code;
 * whether a noise artifact suits this job is the pipeline's check, since it depends on the kind.
 */
export function loadInputs(
  blobs: BlobStore,
  inputs: readonly JobInput[],
  model: DiffusionModel,
  signal: AbortSignal,
): Promise<RunInput[]> {
  return Promise.all(
    inputs.map(async (input): Promise<RunInput> => {
      const bytes = await blobs.get(input.key, signal);
      if (input.type === 'image') {
        return { type: 'image', pixels: await decodeImage(bytes, { size: model.imageSize }) };
      }
      return {
        type: 'noise',
        jobId: input.jobId,
        jobKind: input.jobKind,
        artifact: readNoiseArtifact(bytes),
      };
    }),
  );
}
