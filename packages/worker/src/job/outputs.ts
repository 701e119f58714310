import { type JobItem, type JobOutputs, s3Keys } from '@obelm/core';
import { encodeImage, writeNoiseArtifact } from '@obelm/models';
import type { BlobStore } from '../aws/blobs.ts';
import { encodeErrorMap } from './errorMap.ts';
import type { RunResult } from './runner.ts';

const contentTypes = { png: 'image/png', webp: 'image/webp', jpeg: 'image/jpeg' } as const;

/**
 * Encodes and stores a run's images and noise under `jobs/{tenant}/{jobId}/`: `image.<fmt>`, or
 * `image-<n>.<fmt>` (n from 0) for interpolation, `noise.safetensors`, and a reconstruct job's `error-map.png`.
 * Returns their keys.
 * A batch's job writes its noise only under batch-out/ instead (noiseKey), where the batch's outputs are.
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
    outputs.noise = noiseKey(job);
    writes.push(blobs.put(outputs.noise, writeNoiseArtifact(result.noise), 'application/octet-stream'));
  }
  if (result.errorMap) {
    outputs.errorMap = s3Keys.jobErrorMap(job.tenant, job.id);
    const key = outputs.errorMap;
    writes.push(encodeErrorMap(result.errorMap).then((bytes) => blobs.put(key, bytes, contentTypes.png)));
  }
  await Promise.all(writes);
  return outputs;
}

export async function writeReport(blobs: BlobStore, job: JobItem, report: object): Promise<string> {
  const key = s3Keys.jobReport(job.tenant, job.id);
  await blobs.put(key, `${JSON.stringify(report, null, 2)}\n`, 'application/json');
  return key;
}

/**
 * Where a job's noise goes: its own folder, or for a batch's job `batch-out/{tenant}/{batchId}/<name>
 * .noise.safetensors` (the object's name below the batch prefix), the one copy: the job's `outputs.noise` points
 * there, so GET /v1/jobs/{id}, noise inputs of later jobs and summary.json all name the same object. A later
 * version of the same object writes the same key, so the batch's outputs hold the latest one.
 */
function noiseKey(job: JobItem): string {
  const prefix = job.batch ? s3Keys.batchPrefix(job.tenant, job.batch.id) : undefined;
  if (job.batch && prefix && job.batch.key.startsWith(prefix)) {
    return s3Keys.batchNoise(job.tenant, job.batch.id, job.batch.key.slice(prefix.length));
  }
  return s3Keys.jobNoise(job.tenant, job.id);
}
