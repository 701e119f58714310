/**
 * @obelm/worker: the GPU container's program. Long-polls the jobs queue, claims each job with a conditional
 * write, runs its engine pipeline on a cached model, stores outputs and report.json, and finishes the job;
 * on stop it finishes or checkpoints the job in hand.
 */

export type { Logger } from '@obelm/core';
export { type AwsClients, createAwsClients, createS3Client } from './aws/clients.ts';
export { appendSdkCall, recordSdkCalls, SDK_RECORD_ENV, type SdkCall } from './aws/sdkRecorder.ts';
export { TaskProtection } from './aws/taskProtection.ts';
export {
  type FetchBundleOptions,
  fetchBundle,
  type S3BundleSource,
} from './bundles/bundleFetch.ts';
export { type BundleSource, bundleSourceOf, configuredBundleId } from './bundles/bundleSource.ts';
export { loadModelBundle } from './bundles/bundles.ts';
export type { ModelLoader } from './bundles/modelCache.ts';
export { WorkerError, type WorkerErrorCode } from './errors.ts';
export { pipelineRunner } from './job/pipelines.ts';
export type { JobRunner, RunInput, RunRequest, RunResult } from './job/runner.ts';
export { preloadModel, type RunningWorker, startWorker, type WorkerOptions } from './worker.ts';
