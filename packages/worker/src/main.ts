/**
 * The worker container's program: reads WorkerConfig from the environment and consumes the jobs queue until
 * SIGTERM (ECS stop, spot interruption) or SIGINT, then finishes or checkpoints its job and exits 0. Under the
 * local stack, it also exits when the stack's process is gone.
 */
import { createLogger, describeError, loadConfig, WorkerConfigSchema } from '@obelm/core';
import { configuredBundleId } from './bundles/bundleSource.ts';
import { preloadModel, startWorker } from './worker.ts';

const config = loadConfig(WorkerConfigSchema);
const bundleId = configuredBundleId(config.OBELM_MODEL_BUNDLE); // a malformed s3:// URL stops us here
const worker = startWorker(config);
const log = createLogger('worker', { workerId: worker.workerId });

// Fetch and load the configured bundle now, alongside the first poll, so the first job does not pay for it.
// A job that arrives meanwhile waits on this same load. A failure is retried by the first job that needs it.
preloadModel(config, bundleId).catch((error: unknown) => {
  log.warn('model preload failed', { bundleId, ...describeError(error) });
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    worker.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

// Started by the local stack (spawned with an IPC channel; the cloud container has none): the queue, table and
// bucket live in that parent, so once it is gone there is nothing to finish a job or checkpoint into. Exit now
// rather than loop on connection errors; the job's stale heartbeat returns it to the queue.
if (process.send) {
  const parentGone = () => {
    log.warn('parent process gone; exiting');
    process.exit(1);
  };
  if (!process.connected) parentGone(); // it went while this program was loading
  process.channel?.unref(); // the channel only watches the parent; it must not keep this process alive
  process.once('disconnect', parentGone);
}

worker.done.catch((error: unknown) => {
  log.error('worker failed', describeError(error, { stack: true }));
  process.exit(1);
});
