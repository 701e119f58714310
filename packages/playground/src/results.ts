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

/** An output's caption: an interpolation frame's weight, else its place among several outputs. */
const outputLabel = (i: number, count: number, weight: number | undefined) =>
  weight !== undefined ? `Weight ${weight}` : count > 1 ? `Output ${i + 1}` : 'Output';

/** An input's name: an interpolation's two are A (weight 0) and B (weight 1). */
const inputName = (i: number, count: number) => (count > 1 ? `Input ${i === 0 ? 'A' : 'B'}` : 'Input');

/**
 * Shows a job in the result panel: its inputs (when known) beside its outputs in order (an interpolation's frames
 * captioned with their weights), each output with a download link, a reconstruction's error number and heatmap,
 * and links to the noise artifact and the report.
 */
export function showResult(job: Job, inputs: readonly InputImage[], actions: ResultActions): void {
  byId('result-meta', HTMLParagraphElement).textContent = describeJob(job);
  const figures: HTMLElement[] = inputs.map((input, i) => {
    const name = inputName(i, inputs.length);
    return imageFigure(
      input.previewUrl,
      `${name}: ${input.label}`,
      `${name} (${input.label})`,
      'result-input',
    );
  });
  const outputs = job.outputs ?? {};
  const images = outputs.image ? [outputs.image] : (outputs.images ?? []);
  // One weight per frame, in the order of `outputs.images`.
  const weights = job.params.kind === 'interpolate' ? job.params.weights : [];
  images.forEach((image, i) => {
    const weight = weights[i];
    const label = outputLabel(i, images.length, weight);
    const alt = `${weight === undefined ? label : `Frame at weight ${weight}`} of ${job.kind} job ${job.id}`;
    const figure = imageFigure(image.url, alt, label, 'result-output');
    if (weight !== undefined) figure.dataset['weight'] = String(weight);
    const use = h('button', { type: 'button', 'data-testid': 'use-as-input' }, 'Use as input');
    use.addEventListener('click', () =>
      actions.useAsInput(job, image.url, images.length > 1 ? `${job.id} (${label.toLowerCase()})` : job.id),
    );
    const download = h(
      'a',
      {
        href: image.url,
        target: '_blank',
        rel: 'noopener',
        download: true,
        'data-testid': 'download-output',
      },
      'Download',
      h('span', { class: 'visually-hidden' }, ` ${label.toLowerCase()}`),
    );
    figure.append(h('div', { class: 'figure-actions' }, use, download));
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
