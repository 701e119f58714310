import { IdSchema } from '@obelm/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type HttpEvent, MAX_BODY_BYTES } from '../src/http.ts';
import { parseWith, readJsonBody } from '../src/validation.ts';

const Schema = z.strictObject({
  model: IdSchema,
  steps: z.number().int().min(1).default(20),
  sampler: z.strictObject({ name: z.literal('bdia'), gamma: z.number().gt(0).lte(1) }).optional(),
});

const failure = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return error as { status: number; code: string; message: string; details?: unknown };
  }
  throw new Error('expected an ApiError');
};

describe('parseWith', () => {
  it('returns the parsed value with its defaults', () => {
    expect(parseWith(Schema, { model: 'demo' })).toEqual({ model: 'demo', steps: 20 });
  });

  it('names an unknown field, nested ones by their path, as unknown_field', () => {
    expect(failure(() => parseWith(Schema, { model: 'demo', stpes: 5 }))).toMatchObject({
      status: 400,
      code: 'unknown_field',
      message: "Unknown field 'stpes'",
      details: { field: 'stpes', fields: ['stpes'] },
    });
    expect(
      failure(() => parseWith(Schema, { model: 'demo', sampler: { name: 'bdia', gamma: 1, gama: 1 } })),
    ).toMatchObject({ code: 'unknown_field', details: { field: 'sampler.gama' } });
  });

  it('reports an unknown field before the other problems of the same request', () => {
    expect(failure(() => parseWith(Schema, { model: '../x', steps: 0, typo: 1 })).code).toBe('unknown_field');
  });

  it('lists every other problem as invalid_request, the first one in the message', () => {
    const error = failure(() => parseWith(Schema, { model: '../x', steps: 0 }));
    expect(error).toMatchObject({ status: 400, code: 'invalid_request' });
    expect(error.message.startsWith('model: ')).toBe(true);
    expect(error.details).toEqual([
      { path: 'model', message: expect.any(String) },
      { path: 'steps', message: expect.any(String) },
    ]);
  });

  it('names the request itself when the input is not an object', () => {
    const error = failure(() => parseWith(Schema, [1, 2]));
    expect(error.code).toBe('invalid_request');
    expect(error.message.startsWith('request: ')).toBe(true);
  });
});

describe('readJsonBody', () => {
  const event = (body: string | undefined, isBase64Encoded = false) =>
    ({ body, isBase64Encoded }) as HttpEvent;

  it('parses plain and base64-encoded bodies', () => {
    expect(readJsonBody(event('{"a":1}'))).toEqual({ a: 1 });
    expect(readJsonBody(event(Buffer.from('{"a":[1]}').toString('base64'), true))).toEqual({ a: [1] });
  });

  it('refuses an empty body unless it is optional, and one that is not JSON', () => {
    expect(failure(() => readJsonBody(event(undefined)))).toMatchObject({
      status: 400,
      code: 'malformed_json',
    });
    expect(readJsonBody(event(' \n'), { optional: true })).toEqual({});
    expect(failure(() => readJsonBody(event('{"a":')))).toMatchObject({
      status: 400,
      code: 'malformed_json',
    });
  });

  it('refuses a body over the limit by its decoded size with a 413', () => {
    const atLimit = `"${'a'.repeat(MAX_BODY_BYTES - 2)}"`;
    expect(readJsonBody(event(atLimit))).toHaveLength(MAX_BODY_BYTES - 2);
    expect(failure(() => readJsonBody(event(`${atLimit} `)))).toMatchObject({
      status: 413,
      code: 'payload_too_large',
      details: { maxBytes: MAX_BODY_BYTES },
    });
    // Counted in bytes: two-byte characters reach the limit at half the length.
    expect(failure(() => readJsonBody(event(`"${'é'.repeat(MAX_BODY_BYTES / 2)}"`))).code).toBe(
      'payload_too_large',
    );
  });
});
