import type { CreateJobRequest, Job, ObelmClient } from '@obelm/client';
import type { InputImage } from './imageInput.ts';
import type { UploadedImage } from './request.ts';

/** Uploads already made of an image for a key: an upload may feed any number of that tenant's jobs. */
const uploads = new WeakMap<Blob, Map<string, Promise<string>>>();

/** The image's uploadId for this client's key, uploading it (presigned POST, straight to storage) once. */
export function uploadOnce(
  client: ObelmClient,
  apiKey: string,
  image: InputImage,
  signal?: AbortSignal,
): Promise<UploadedImage> {
  const byKey = uploads.get(image.blob) ?? new Map<string, Promise<string>>();
  uploads.set(image.blob, byKey);
  let uploadId = byKey.get(apiKey);
  if (!uploadId) {
    uploadId = client.uploadFile(image.blob, signal ? { signal } : {});
    byKey.set(apiKey, uploadId);
    // A failed upload is not remembered: the next run tries again.
    uploadId.catch(() => byKey.delete(apiKey));
  }
  return uploadId.then((id) => ({ uploadId: id }));
}

/**
 * Creates a job and follows it to its end, reporting each change of status or step. Aborting `signal` stops
 * following and asks the API to cancel the job.
 */
export async function runJob(
  client: ObelmClient,
  request: CreateJobRequest,
  options: { signal: AbortSignal; onProgress: (job: Job) => void },
): Promise<Job> {
  const { signal, onProgress } = options;
  const created = await client.createJob(request, { signal });
  onProgress(created);
  try {
    return await client.waitForJob(created.id, { signal, onProgress, progressEverySeconds: 0.5 });
  } catch (err) {
    // Best effort: the job may have ended meanwhile (409), which is fine.
    if (signal.aborted) await client.cancelJob(created.id).catch(() => undefined);
    throw err;
  }
}
