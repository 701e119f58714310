/**
 * The worker container's program: reads WorkerConfig from the environment and consumes the jobs queue until
 * SIGTERM (ECS stop, spot interruption) or SIGINT, then finishes or checkpoints its job and exits 0.
 */
import { loadConfig, WorkerConfigSchema } from '@obelm/core';
import { startWorker } from './worker.ts';

const config = loadConfig(WorkerConfigSchema);
const worker = startWorker(config);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    worker.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

worker.done.catch((error: unknown) => {
  console.error(JSON.stringify({ level: 'error', msg: 'worker failed', error: String(error) }));
  process.exit(1);
});
