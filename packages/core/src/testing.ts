import type { JobItem } from './jobs.ts';
import { ttlAfter } from './table.ts';

/**
 * Test fixture: a queued demo sample job (4 steps, seed 1), created at `at`, kept an hour, with `overrides`
 * applied. For tests that arrange job items directly (`jobTransitions.create`), not through the API.
 */
export function queuedJobItem(
  overrides: Partial<JobItem> & Pick<JobItem, 'id' | 'tenant'>,
  at = new Date(),
): JobItem {
  return {
    status: 'queued',
    params: {
      kind: 'sample',
      model: 'demo',
      steps: 4,
      guidance: 1,
      negativePrompt: '',
      sampler: { name: 'obelm' },
      outputFormat: 'png',
      prompt: '',
      seed: 1,
    },
    inputs: [],
    attempts: 0,
    createdAt: at.toISOString(),
    updatedAt: at.toISOString(),
    ttl: ttlAfter(at, 3600),
    ...overrides,
  };
}
