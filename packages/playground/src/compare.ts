import type { Job, ObelmClient } from '@obelm/client';
import { problemOf } from './alerts.ts';
import { byId, h } from './dom.ts';
import { errorMapFigure, errorMapOf } from './heatmap.ts';
import type { InputImage } from './imageInput.ts';
import { describeProgress, setStatus } from './progress.ts';
import { compareRequests, type FormValues, SAMPLERS, type SamplerName } from './request.ts';
import { errorValue } from './results.ts';
import { runJob, uploadOnce } from './runner.ts';

export const SAMPLER_LABELS: Record<SamplerName, string> = {
  obelm: 'O-BELM',
  ddim: 'DDIM',
  bdia: 'BDIA',
  edict: 'EDICT',
};

/** One sampler's cell; `data-status` and, once done, `data-error` (the latent max error) tell scripts where it is. */
function emptyCell(sampler: SamplerName): HTMLElement {
  return h(
    'article',
    {
      class: 'compare-cell',
      'data-testid': 'compare-cell',
      'data-sampler': sampler,
      'data-status': 'queued',
    },
    h('h3', {}, SAMPLER_LABELS[sampler]),
    h('p', { class: 'meta', 'data-role': 'status' }, 'queued'),
  );
}

function showCellProgress(cell: HTMLElement, job: Job): void {
  cell.dataset['status'] = job.status;
  const status = cell.querySelector('[data-role="status"]');
  if (status) status.textContent = describeProgress(job);
}

function showCellResult(cell: HTMLElement, job: Job, sampler: SamplerName): void {
  showCellProgress(cell, job);
  const label = SAMPLER_LABELS[sampler];
  const image = job.outputs?.image;
  if (image)
    cell.append(
      h(
        'figure',
        {},
        h('img', {
          src: image.url,
          alt: `${label} reconstruction`,
          class: 'pixelated',
          width: 256,
          height: 256,
        }),
        h('figcaption', {}, 'Reconstruction'),
      ),
    );
  const map = errorMapOf(job);
  if (map) cell.append(errorMapFigure(map, `${label} error map`));
  const error = job.metrics?.latentMaxAbsError;
  if (error !== undefined) {
    cell.dataset['error'] = String(error);
    cell.append(errorValue(error));
  }
}

function showCellProblem(cell: HTMLElement, err: unknown): void {
  const problem = problemOf(err);
  cell.dataset['status'] = 'failed';
  const status = cell.querySelector('[data-role="status"]');
  if (status) status.textContent = `${problem.code}: ${problem.message}`;
}

/**
 * The same round trip (reconstruct: invert, then sample back) of `image` with every sampler, side by side: each
 * cell's image, error map and largest latent error. Resolves once every job has ended; throws only when the
 * upload fails (a job's own failure is shown in its cell).
 */
export async function compareSamplers(
  client: ObelmClient,
  apiKey: string,
  image: InputImage,
  values: FormValues,
  signal: AbortSignal,
): Promise<Job[]> {
  const view = byId('compare-view', HTMLElement);
  const grid = byId('compare-grid', HTMLDivElement);
  const cells = SAMPLERS.map(emptyCell);
  grid.replaceChildren(...cells);
  view.hidden = false;
  grid.setAttribute('aria-busy', 'true');
  setStatus('Compare: uploading the image…', 0);
  const uploaded = await uploadOnce(client, apiKey, image, signal);
  const done = new Map<SamplerName, number>();
  const report = () => {
    const fraction = [...done.values()].reduce((sum, f) => sum + f, 0) / SAMPLERS.length;
    setStatus(
      `Compare: ${SAMPLERS.map((s) => `${SAMPLER_LABELS[s]} ${Math.round(100 * (done.get(s) ?? 0))}%`).join(', ')}`,
      fraction,
    );
  };
  const requests = compareRequests(values, uploaded);
  const settled = await Promise.allSettled(
    SAMPLERS.map(async (sampler, i) => {
      const cell = cells[i]!;
      const request = requests[i]!;
      try {
        const job = await runJob(client, request, {
          signal,
          onProgress: (update) => {
            showCellProgress(cell, update);
            const p = update.progress;
            done.set(sampler, update.status === 'succeeded' ? 1 : p?.of ? p.step / p.of : 0);
            report();
          },
        });
        showCellResult(cell, job, sampler);
        done.set(sampler, 1);
        report();
        return job;
      } catch (err) {
        showCellProblem(cell, err);
        throw err;
      }
    }),
  );
  grid.setAttribute('aria-busy', 'false');
  signal.throwIfAborted();
  return settled.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
}
