/**
 * @obelm/worker: the GPU container's program. Long-polls the jobs queue, claims each job with a conditional
 * write, runs its engine pipeline on a cached model, stores outputs and report.json, and finishes the job;
 * on stop it finishes or checkpoints the job in hand.
 */
export { type AwsClients, createAwsClients } from './aws.ts';
export { WorkerError, type WorkerErrorCode } from './errors.ts';
export type { Logger } from './log.ts';
export type { ModelLoader } from './modelCache.ts';
export { pipelineRunner } from './pipelines.ts';
export type { JobRunner, RunInput, RunRequest, RunResult } from './runner.ts';
export { type RunningWorker, startWorker, type WorkerOptions } from './worker.ts';
