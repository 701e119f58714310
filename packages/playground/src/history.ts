import type { Job, ObelmClient } from '@obelm/client';
import { byId, h } from './dom.ts';

/** How many recent jobs the list shows. */
const HISTORY_SIZE = 12;

const when = (iso: string) =>
  new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });

/** The tenant's most recent jobs, newest first. */
export async function recentJobs(client: ObelmClient, signal?: AbortSignal): Promise<Job[]> {
  const jobs: Job[] = [];
  for await (const job of client.listJobs({ limit: HISTORY_SIZE })) {
    signal?.throwIfAborted();
    jobs.push(job);
    if (jobs.length >= HISTORY_SIZE) break;
  }
  return jobs;
}

/** Lists the jobs as buttons; choosing one calls `onSelect` with its id. */
export function showHistory(jobs: readonly Job[], onSelect: (id: string) => void, selectedId?: string): void {
  const list = byId('history', HTMLOListElement);
  if (jobs.length === 0) {
    list.replaceChildren(h('li', { class: 'meta' }, 'No jobs yet.'));
    return;
  }
  list.replaceChildren(
    ...jobs.map((job) => {
      const button = h(
        'button',
        {
          type: 'button',
          'data-job-id': job.id,
          'aria-current': job.id === selectedId ? 'true' : undefined,
        },
        `${when(job.createdAt)} · ${job.kind} · ${job.params.sampler.name} · ${job.status} · ${job.id}`,
      );
      button.addEventListener('click', () => onSelect(job.id));
      return h('li', {}, button);
    }),
  );
}
