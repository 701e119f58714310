import { createLogger } from '@obelm/core';
import type { JobTable } from '@obelm/store';
import { expect, test } from 'vitest';
import { JobLease } from '../src/queue/lease.ts';
import type { JobQueue } from '../src/queue/queue.ts';

test('a resumed run is estimated from the steps it ran itself, not those of the runs before it', async () => {
  // No write happens here (the first 500 ms write no progress, the heartbeat is an hour away): no store needed.
  const lease = new JobLease({
    jobs: {} as JobTable,
    queue: {} as JobQueue,
    message: { id: 'm', body: '', receiptHandle: 'r', receiveCount: 1 },
    jobId: 'job_x',
    workerId: 'w',
    heartbeatSeconds: 3600,
    log: createLogger('test'),
  });
  try {
    // Resumed at step 40 of 50: its first step here is 41, after about 100 ms.
    await new Promise((resolve) => setTimeout(resolve, 100));
    await lease.progress(41, 50);
    // 9 steps to go at ~100 ms each; counting the 40 earlier steps as this run's would say ~20 ms.
    expect(lease.estimateRemainingMs()).toBeGreaterThan(500);
  } finally {
    await lease.close();
  }
});
