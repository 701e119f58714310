import type { Problem } from './alerts.ts';
import { byId } from './dom.ts';
import { type FormValues, JOB_KINDS, type PlaygroundJobKind, SAMPLERS, type SamplerName } from './request.ts';
import { parseWeights } from './weights.ts';

const text = (id: string) => byId(id, HTMLInputElement).value.trim();

/** A number field's value; empty or not a number: undefined. */
function numberValue(id: string): number | undefined {
  const raw = byId(id, HTMLInputElement).value.trim();
  if (raw === '') return undefined;
  const value = Number(raw);
  return Number.isFinite(value) ? value : undefined;
}

const oneOf = <T extends string>(value: string, allowed: readonly T[], fallback: T): T =>
  (allowed as readonly string[]).includes(value) ? (value as T) : fallback;

export const selectedKind = (): PlaygroundJobKind =>
  oneOf(byId('kind', HTMLSelectElement).value, JOB_KINDS, 'sample');

/**
 * What the form says now, or the problem with the one field the page checks itself: a weights list, free text the
 * number inputs cannot bound. The API checks the other values; its refusals are shown as they come.
 */
export function readForm(): { values: FormValues } | { problem: Problem } {
  const kind = selectedKind();
  const weights = kind === 'interpolate' ? parseWeights(text('weights')) : { weights: undefined };
  if ('problem' in weights) return { problem: { code: 'invalid_weights', message: weights.problem } };
  const values: FormValues = {
    kind,
    model: byId('model', HTMLSelectElement).value,
    prompt: text('prompt'),
    sourcePrompt: text('source-prompt'),
    targetPrompt: text('target-prompt'),
    sampler: oneOf<SamplerName>(byId('sampler', HTMLSelectElement).value, SAMPLERS, 'obelm'),
    steps: numberValue('steps'),
    guidance: numberValue('guidance'),
    strength: numberValue('strength'),
    seed: numberValue('seed'),
    weights: weights.weights,
  };
  return { values };
}

/** Shows the fields (those with `data-kinds`) the job kind uses, and hides the others. */
export function showFieldsOf(kind: PlaygroundJobKind): void {
  for (const element of document.querySelectorAll<HTMLElement>('[data-kinds]')) {
    element.hidden = !(element.dataset['kinds'] ?? '').split(' ').includes(kind);
  }
}

/** Disables the inputs while a job runs (Cancel stays usable). */
export function setBusy(busy: boolean): void {
  byId('run', HTMLButtonElement).disabled = busy;
  byId('compare', HTMLButtonElement).disabled = busy;
  byId('cancel', HTMLButtonElement).hidden = !busy;
  byId('job-form', HTMLFormElement).setAttribute('aria-busy', String(busy));
}
