import type { CreateJobRequest } from '@obelm/client';

/** An interpolate job's slerp weights, as the client types them: one output frame each, 0 = the first image. */
export type Weights = NonNullable<Extract<CreateJobRequest, { kind: 'interpolate' }>['weights']>;

/** The field's text read as weights: undefined for an empty field (the API's default list), or a problem. */
export type WeightsReading = { weights: Weights | undefined } | { problem: string };

/**
 * Reads "0, 0.25, 1" (commas and/or spaces between numbers). Only the text's form is checked here: how many
 * weights and in what range is the API's rule (core jobs.ts), which answers a list outside it with its own
 * invalid_request, shown as any API problem is.
 */
export function parseWeights(text: string): WeightsReading {
  const parts = text.split(/[\s,]+/).filter(Boolean);
  if (parts.length === 0) return { weights: undefined };
  const bad = parts.find((part) => !Number.isFinite(Number(part)));
  if (bad !== undefined) return { problem: `Weights: "${bad}" is not a number.` };
  return { weights: parts.map(Number) };
}
