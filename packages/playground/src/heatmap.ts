import type { Job } from '@obelm/client';
import { h } from './dom.ts';

/** A reconstruct job's error heatmap link (GET /v1/jobs/{id} `outputs.errorMap`) and the scale of its colours. */
export interface ErrorMapLink {
  url: string;
  expiresAt: string;
  scale: { min: number; max: number };
}

/** The job's error map, when its view has one (reconstruct jobs of an API that makes them). */
export const errorMapOf = (job: Job): ErrorMapLink | undefined =>
  (job.outputs as { errorMap?: ErrorMapLink } | undefined)?.errorMap;

/** A number as short as its size needs: `0`, `3.1e-12`, `0.042`. */
export function formatError(value: number): string {
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  return magnitude >= 1e-3 && magnitude < 1e4 ? value.toPrecision(3) : value.toExponential(2);
}

/** `1e-16` for a power of ten, else the short form. */
const formatScaleEnd = (value: number) => {
  const exponent = Math.log10(value);
  return Number.isInteger(exponent) ? (exponent === 0 ? '1' : `1e${exponent}`) : formatError(value);
};

/**
 * The heatmap (scaled up without smoothing: one latent position a block) with its colour legend. The legend's
 * colours are styles.css `.legend-bar`, the same ramp as the worker paints the map with.
 */
export function errorMapFigure(map: ErrorMapLink, caption: string): HTMLElement {
  const min = formatScaleEnd(map.scale.min);
  const max = formatScaleEnd(map.scale.max);
  return h(
    'figure',
    { 'data-testid': 'error-map' },
    h('img', {
      src: map.url,
      alt: `${caption}: where the round trip differs from the input, darkest at ${min} or less, brightest at ${max}`,
      class: 'pixelated',
      width: 256,
      height: 256,
    }),
    h(
      'figcaption',
      {},
      caption,
      h(
        'div',
        { class: 'legend', 'aria-hidden': 'true' },
        h('div', { class: 'legend-bar' }),
        h(
          'div',
          { class: 'legend-ticks' },
          h('span', {}, `≤ ${min}`),
          h('span', {}, 'log scale'),
          h('span', {}, `≥ ${max}`),
        ),
      ),
    ),
  );
}
