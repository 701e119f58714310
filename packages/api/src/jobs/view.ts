import { GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { JobItem, JobView, OutputLink } from '@obelm/core';
import type { Deps } from '../deps.ts';

/** The public view of a job item: internal fields dropped, every output a fresh presigned GET URL. */
export async function toJobView(deps: Deps, job: JobItem): Promise<JobView> {
  const seconds = deps.config.OBELM_PRESIGN_SECONDS;
  const expiresAt = new Date(deps.now().getTime() + seconds * 1000).toISOString();
  const link = async (key: string): Promise<OutputLink> => ({
    url: await getSignedUrl(deps.s3, new GetObjectCommand({ Bucket: deps.config.OBELM_BUCKET, Key: key }), {
      expiresIn: seconds,
    }),
    expiresAt,
  });
  const out = job.outputs;
  const outputs: JobView['outputs'] = out
    ? {
        ...(out.image ? { image: await link(out.image) } : {}),
        ...(out.images ? { images: await Promise.all(out.images.map(link)) } : {}),
        ...(out.noise ? { noise: await link(out.noise) } : {}),
        ...(out.report ? { report: await link(out.report) } : {}),
      }
    : undefined;
  return {
    id: job.id,
    kind: job.params.kind,
    status: job.status,
    model: job.params.model,
    params: job.params,
    ...(job.progress ? { progress: job.progress } : {}),
    ...(outputs ? { outputs } : {}),
    ...(job.metrics ? { metrics: job.metrics } : {}),
    ...(job.error ? { error: { code: job.error.code, message: job.error.message } } : {}),
    ...(job.metadata ? { metadata: job.metadata } : {}),
    ...(job.cancelRequested ? { cancelRequested: true } : {}),
    createdAt: job.createdAt,
    ...(job.startedAt ? { startedAt: job.startedAt } : {}),
    ...(job.finishedAt ? { finishedAt: job.finishedAt } : {}),
  };
}
