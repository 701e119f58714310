import { type JobItem, type JobOutputs, s3Keys } from '@obelm/core';
import { encodeImage, writeNoiseArtifact } from '@obelm/models';
import type { BlobStore } from '../aws/blobs.ts';
import type { RunResult } from './runner.ts';

const contentTypes = { png: 'image/png', webp: 'image/webp', jpeg: 'image/jpeg' } as const;

/**
 * Encodes and stores a run's images and noise under `jobs/{tenant}/{jobId}/`: `image.<fmt>`, or
 * `image-<n>.<fmt>` (n from 0) for interpolation, and `noise.safetensors`. Returns their keys.
 */
export async function writeOutputs(blobs: BlobStore, job: JobItem, result: RunResult): Promise<JobOutputs> {
  const format = job.params.outputFormat;
  const outputs: JobOutputs = {};
  const writes: Promise<void>[] = [];
  const putImage = (key: string, index: number) =>
    writes.push(
      encodeImage(result.images[index]!, format).then((bytes) => blobs.put(key, bytes, contentTypes[format])),
    );

  if (job.params.kind === 'interpolate') {
    outputs.images = result.images.map((_, n) => s3Keys.jobImageN(job.tenant, job.id, n, format));
    outputs.images.forEach(putImage);
  } else if (result.images.length > 0) {
    outputs.image = s3Keys.jobImage(job.tenant, job.id, format);
    putImage(outputs.image, 0);
  }
  if (result.noise) {
    outputs.noise = s3Keys.jobNoise(job.tenant, job.id);
    writes.push(blobs.put(outputs.noise, writeNoiseArtifact(result.noise), 'application/octet-stream'));
  }
  await Promise.all(writes);
  return outputs;
}

export async function writeReport(blobs: BlobStore, job: JobItem, report: object): Promise<string> {
  const key = s3Keys.jobReport(job.tenant, job.id);
  await blobs.put(key, `${JSON.stringify(report, null, 2)}\n`, 'application/json');
  return key;
}
