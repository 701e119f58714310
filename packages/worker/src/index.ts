/**
 * @obelm/worker: the GPU container's program. Long-polls the jobs queue, claims each job with a conditional
 * write, runs its engine pipeline on a cached model, stores outputs and report.json, and finishes the job;
 * on stop it finishes or checkpoints the job in hand.
 */

export type { Logger } from '@obelm/core';
export { type AwsClients, createAwsClients, createS3Client } from './aws.ts';
export { type FetchBundleOptions, fetchBundle, type S3BundleSource, SOURCE_MARKER } from './bundleFetch.ts';
export { type BundleSource, bundleSourceOf, configuredBundleId } from './bundleSource.ts';
export { loadModelBundle } from './bundles.ts';
export { WorkerError, type WorkerErrorCode } from './errors.ts';
export { JobStore } from './jobStore.ts';
export type { ModelLoader } from './modelCache.ts';
export { pipelineRunner } from './pipelines.ts';
export type { JobRunner, RunInput, RunRequest, RunResult } from './runner.ts';
export { TaskProtection } from './taskProtection.ts';
export { preloadModel, type RunningWorker, startWorker, type WorkerOptions } from './worker.ts';
