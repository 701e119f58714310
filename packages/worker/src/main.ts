/**
 * The worker container's program: reads WorkerConfig from the environment and consumes the jobs queue until
 * SIGTERM (ECS stop, spot interruption) or SIGINT, then finishes or checkpoints its job and exits 0. Under the
 * local stack, it also exits when the stack's process is gone.
 *
 * `--health` (the container health check) only checks the running worker's health file (health.ts): exit 0
 * when it is fresh, else 1. It starts nothing: the worker's modules are evaluated only after that check.
 *
 * Exit codes: 0 stopped; 1 failed; EXIT_HOST_FAULT when the configured GPU provider cannot load here.
 */
import { createLogger, describeError, loadConfig, WorkerConfigSchema } from '@obelm/core';
import { HealthConfigSchema, HealthFile, healthSettings, isHealthy } from './health.ts';

/** sysexits' EX_CONFIG: this machine cannot run what it was configured for; restarting it here will not help. */
const EXIT_HOST_FAULT = 78;

if (process.argv.includes('--health')) {
  process.exit((await isHealthy(healthSettings(loadConfig(HealthConfigSchema)))) ? 0 : 1);
}

const { configuredBundleId } = await import('./bundles/bundleSource.ts');
const { isHostFault } = await import('./bundles/modelCache.ts');
const { preloadModel, startWorker } = await import('./worker.ts');

const config = loadConfig(WorkerConfigSchema);
const bundleId = configuredBundleId(config.OBELM_MODEL_BUNDLE); // a malformed s3:// URL stops us here
// Written only once the preload succeeded (below), so `log` exists by the time a write can fail.
const health = new HealthFile(healthSettings(config).file, (error) =>
  log.warn('health file not written', describeError(error)),
);
const worker = startWorker(config, { alive: () => void health.beat() });
const log = createLogger('worker', { workerId: worker.workerId });

// Fetch and load the configured bundle now, alongside the first poll, so the first job does not pay for it.
// A job that arrives meanwhile waits on this same load. The worker reports healthy once it is loaded; another
// failure is retried by the first job that needs it (and the health check fails until then).
preloadModel(config, bundleId).then(
  () => health.ready(),
  (error: unknown) => {
    // A host fault stops the worker (worker.done below says so); anything else may pass.
    if (!isHostFault(error)) log.warn('model preload failed', { bundleId, ...describeError(error) });
  },
);

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
  if (isHostFault(error)) {
    // One line that says it all: a GPU instance must not run jobs on one CPU thread while it is billed.
    log.error(`${error.message} on a GPU instance (OBELM_PROVIDER_FALLBACK=cpu allows it)`, {
      code: error.code,
      provider: config.OBELM_PROVIDER,
    });
    process.exit(EXIT_HOST_FAULT);
  }
  log.error('worker failed', describeError(error, { stack: true }));
  process.exit(1);
});
