import type { Job } from '@obelm/client';
import { byId } from './dom.ts';

const bar = () => byId('progress', HTMLProgressElement);
const statusLine = () => byId('status', HTMLParagraphElement);

/** The job's state in words, e.g. `running: step 4 of 20`. */
export function describeProgress(job: Job): string {
  if (job.status === 'running' && job.progress)
    return `running: step ${job.progress.step} of ${job.progress.of}`;
  if (job.status === 'failed' && job.error) return `failed: ${job.error.code}`;
  return job.status;
}

/** A job's progress on the page's bar and status line. */
export function showJobProgress(job: Job, label = `Job ${job.id}`): void {
  const progress = bar();
  if (job.status === 'succeeded') progress.value = progress.max;
  else if (job.progress && job.progress.of > 0) {
    progress.max = job.progress.of;
    progress.value = job.progress.step;
  }
  setStatus(`${label}: ${describeProgress(job)}`);
}

/** A status line of its own (uploading, comparing...), optionally with a fraction done. */
export function setStatus(text: string, fraction?: number): void {
  statusLine().textContent = text;
  if (fraction !== undefined) {
    const progress = bar();
    progress.max = 1;
    progress.value = Math.min(1, Math.max(0, fraction));
  }
}

/** Back to an empty bar (a new run). */
export function resetProgress(text: string): void {
  const progress = bar();
  progress.max = 1;
  progress.value = 0;
  setStatus(text);
}
