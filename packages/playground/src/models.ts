import type { ModelList } from '@obelm/client';
import { byId, h } from './dom.ts';
import type { PlaygroundJobKind } from './request.ts';

/** A model as GET /v1/models lists it; `vocabulary` when its prompts are made of known words (the demo). */
export type ModelInfo = ModelList['models'][number] & { vocabulary?: string[] };

/** Fills the model select (the first model chosen) and returns the list. */
export function showModels(list: ModelList): ModelInfo[] {
  const models = list.models as ModelInfo[];
  const select = byId('model', HTMLSelectElement);
  const chosen = select.value;
  select.replaceChildren(
    ...models.map((model) => h('option', { value: model.id, title: model.description }, model.id)),
  );
  if (models.some((model) => model.id === chosen)) select.value = chosen;
  return models;
}

/** A number field's limits and value; `keepTouched`: a value the user typed stays. */
function setNumber(id: string, value: number, limits: { min?: number; max?: number }, keepTouched = false) {
  const input = byId(id, HTMLInputElement);
  if (limits.min !== undefined) input.min = String(limits.min);
  if (limits.max !== undefined) input.max = String(limits.max);
  if (!(keepTouched && input.dataset['touched'])) input.value = String(value);
}

/** The model's limits and defaults on the steps, guidance and strength fields, for this job kind. */
export function applyModelSettings(model: ModelInfo, kind: PlaygroundJobKind, keepTouched = false): void {
  const { limits, defaults } = model;
  setNumber('steps', defaults.steps, { min: limits.minSteps, max: limits.maxSteps }, keepTouched);
  setNumber(
    'guidance',
    kind === 'edit' ? defaults.editGuidance : defaults.guidance,
    { min: 0, max: limits.maxGuidance },
    keepTouched,
  );
  setNumber('strength', defaults.editStrength, {}, keepTouched);
}

/** Marks number fields the user changed, so a kind switch does not overwrite them. */
export function trackTouchedNumbers(): void {
  for (const id of ['steps', 'guidance', 'strength']) {
    const input = byId(id, HTMLInputElement);
    input.addEventListener('input', () => {
      input.dataset['touched'] = 'true';
    });
  }
}
