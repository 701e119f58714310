import type { CreateJobRequest } from '@obelm/client';
import type { Weights } from './weights.ts';

export const JOB_KINDS = ['sample', 'edit', 'invert', 'reconstruct', 'interpolate'] as const;
export type PlaygroundJobKind = (typeof JOB_KINDS)[number];
export const SAMPLERS = ['obelm', 'ddim', 'bdia', 'edict'] as const;
export type SamplerName = (typeof SAMPLERS)[number];

/** The form's values; a number left empty is undefined (the model's default then applies). */
export interface FormValues {
  kind: PlaygroundJobKind;
  model: string;
  prompt: string;
  sourcePrompt: string;
  targetPrompt: string;
  sampler: SamplerName;
  steps: number | undefined;
  guidance: number | undefined;
  strength: number | undefined;
  seed: number | undefined;
  /** Interpolate only: the checked weights list; undefined for the API's default. */
  weights: Weights | undefined;
}

/** An uploaded image, as jobs name it. */
export interface UploadedImage {
  uploadId: string;
}

/** How many input images a kind takes: none to sample, two to interpolate between, else one. */
export const imagesNeeded = (kind: PlaygroundJobKind): number =>
  kind === 'sample' ? 0 : kind === 'interpolate' ? 2 : 1;

/** The largest seed the API takes (a uint32). */
const MAX_SEED = 4_294_967_295;
const randomSeed = () => globalThis.crypto.getRandomValues(new Uint32Array(1))[0] ?? 0;

/** The shared settings: model, sampler, and the numbers given. */
function common(values: FormValues) {
  return {
    ...(values.model ? { model: values.model } : {}),
    sampler: { name: values.sampler },
    ...(values.steps === undefined ? {} : { steps: values.steps }),
    ...(values.guidance === undefined ? {} : { guidance: values.guidance }),
  };
}

/** The POST /v1/jobs body for the form's values, with the kind's `imagesNeeded` uploaded images. */
export function jobRequest(values: FormValues, images: readonly UploadedImage[] = []): CreateJobRequest {
  if (images.length !== imagesNeeded(values.kind))
    throw new Error(`a ${values.kind} job needs ${imagesNeeded(values.kind)} images, not ${images.length}`);
  if (values.kind === 'sample')
    return {
      kind: 'sample',
      ...common(values),
      prompt: values.prompt,
      seed: values.seed === undefined ? randomSeed() : Math.min(MAX_SEED, values.seed),
    };
  // The count is checked above: `second` is read by interpolate only, the one kind with two.
  const [image, second] = images as [UploadedImage, UploadedImage];
  switch (values.kind) {
    case 'edit':
      return {
        kind: 'edit',
        ...common(values),
        image,
        sourcePrompt: values.sourcePrompt,
        targetPrompt: values.targetPrompt,
        ...(values.strength === undefined ? {} : { strength: values.strength }),
      };
    case 'invert':
      return { kind: 'invert', ...common(values), image, prompt: values.prompt };
    case 'reconstruct':
      return { kind: 'reconstruct', ...common(values), image, prompt: values.prompt };
    case 'interpolate':
      return {
        kind: 'interpolate',
        ...common(values),
        images: [image, second],
        ...(values.weights === undefined ? {} : { weights: values.weights }),
        prompt: values.prompt,
      };
  }
}

/** The round trip of `image` with each sampler: the compare view's jobs. */
export function compareRequests(values: FormValues, image: UploadedImage): CreateJobRequest[] {
  // An edit's image shows its source prompt: that is the prompt the round trip conditions on.
  const prompt = values.kind === 'edit' ? values.sourcePrompt : values.prompt;
  return SAMPLERS.map((name) => ({
    kind: 'reconstruct' as const,
    ...common({ ...values, sampler: name }),
    image,
    prompt,
  }));
}
