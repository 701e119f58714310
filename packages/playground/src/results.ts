import type { Job } from '@obelm/client';
import { byId, h } from './dom.ts';
import { errorMapFigure, errorMapOf, formatError } from './heatmap.ts';
import type { InputImage } from './imageInput.ts';

/** What the result panel can do with an output image. */
export interface ResultActions {
  /** Makes the job's output at `url` the input image of the next job. */
  useAsInput(job: Job, url: string, label: string): void;
}

const samplerOf = (job: Job) => job.params.sampler.name;

/** One line about the job: kind, sampler, steps, status, id, run time. */
export function describeJob(job: Job): string {
  const runMs = job.metrics?.runMs;
  return [
    job.kind,
    samplerOf(job),
    `${job.params.steps} steps`,
    job.status,
    job.id,
    ...(runMs === undefined ? [] : [`ran ${(runMs / 1000).toFixed(1)} s`]),
  ].join(' · ');
}

const imageFigure = (src: string, alt: string, caption: string, testId: string) =>
  h(
    'figure',
    { 'data-testid': testId },
    h('img', { src, alt, class: 'pixelated', width: 256, height: 256 }),
    h('figcaption', {}, caption),
  );

/** The round trip's largest latent error, its number in `data-error` (full precision) for scripts and tests. */
export function errorValue(value: number): HTMLElement {
  return h(
    'p',
    { class: 'meta' },
    'Largest latent error: ',
    h(
      'span',
      { class: 'error-value', 'data-testid': 'error-value', 'data-error': String(value) },
      formatError(value),
    ),
  );
}

function link(url: string, text: string, testId: string): HTMLLIElement {
  return h('li', {}, h('a', { href: url, target: '_blank', rel: 'noopener', 'data-testid': testId }, text));
}

/**
 * Shows a job in the result panel: its input (when known) beside its output, a reconstruction's error number and
 * heatmap, and links to the noise artifact and the report.
 */
export function showResult(job: Job, input: InputImage | undefined, actions: ResultActions): void {
  byId('result-meta', HTMLParagraphElement).textContent = describeJob(job);
  const figures: HTMLElement[] = [];
  if (input)
    figures.push(
      imageFigure(input.previewUrl, `Input: ${input.label}`, `Input (${input.label})`, 'result-input'),
    );
  const outputs = job.outputs ?? {};
  const images = outputs.image ? [outputs.image] : (outputs.images ?? []);
  images.forEach((image, i) => {
    const label = images.length > 1 ? `Output ${i + 1}` : 'Output';
    const figure = imageFigure(image.url, `${label} of ${job.kind} job ${job.id}`, label, 'result-output');
    const use = h('button', { type: 'button', 'data-testid': 'use-as-input' }, 'Use as input');
    use.addEventListener('click', () =>
      actions.useAsInput(job, image.url, `${job.id}${images.length > 1 ? ` #${i + 1}` : ''}`),
    );
    figure.append(use);
    figures.push(figure);
  });
  const errorMap = errorMapOf(job);
  if (errorMap) figures.push(errorMapFigure(errorMap, 'Round-trip error'));
  byId('result-figures', HTMLDivElement).replaceChildren(...figures);

  const error = job.metrics?.latentMaxAbsError;
  const links = byId('result-links', HTMLUListElement);
  links.replaceChildren(
    ...(error === undefined ? [] : [h('li', {}, errorValue(error))]),
    ...(outputs.noise ? [link(outputs.noise.url, 'Noise artifact', 'noise-link')] : []),
    ...(outputs.report ? [link(outputs.report.url, 'Report (JSON)', 'report-link')] : []),
  );
}
