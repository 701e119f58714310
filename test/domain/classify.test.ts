import { S3ServiceException } from '@aws-sdk/client-s3';
import { ApiError, CodedError, classify, type ErrorClass } from '@obelm/core';
import { EngineError, gaussianNoise } from '@obelm/engine';
import {
  decodeImage,
  ImageError,
  ModelError,
  NoiseFileError,
  readNoiseArtifact,
  TokenizerError,
} from '@obelm/models';
import { WorkerError } from '@obelm/worker';
import { describe, expect, test } from 'vitest';

/** An S3 error as the SDK throws it; `$retryable` is what it sets for errors its model marks retryable. */
const serviceError = (name: string, httpStatusCode: number, retryable = false) =>
  Object.assign(
    new S3ServiceException({
      name,
      message: name,
      $fault: httpStatusCode >= 500 ? 'server' : 'client',
      $metadata: { httpStatusCode },
    }),
    retryable ? { $retryable: {} } : {},
  );
const nodeError = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:9000`), { code });
const named = (name: string, message = name) => Object.assign(new Error(message), { name });

/** What a call threw (sync or async), so the table holds errors the packages really raise. */
async function thrownBy(call: () => unknown): Promise<unknown> {
  try {
    await call();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw');
}

const job = (code: string, message: string): ErrorClass => ({ kind: 'job', error: { code, message } });
const transient: ErrorClass = { kind: 'transient' };
const unexpected: ErrorClass = { kind: 'unexpected' };

describe('typed errors of every package end the job with their code', () => {
  test.each<[string, () => unknown, ErrorClass]>([
    [
      'engine: a bad seed',
      () => thrownBy(() => gaussianNoise(-1, 4)),
      job('invalid_seed', 'seed must be an integer in [0, 2^32 - 1], got -1'),
    ],
    [
      'engine: bad steps',
      () => new EngineError('invalid_steps', 'steps must be >= 1'),
      job('invalid_steps', 'steps must be >= 1'),
    ],
    [
      'models: bytes that are no image',
      () => thrownBy(() => decodeImage(new Uint8Array([1, 2, 3, 4]), { size: [8, 8] })),
      job('invalid_image', 'the bytes are not a recognised image'),
    ],
    [
      'models: a truncated noise file',
      () => thrownBy(() => readNoiseArtifact(new Uint8Array(3))),
      job('noise_truncated', 'noise file is shorter than its 8-byte header length'),
    ],
    [
      'models: an incompatible noise file',
      () => new NoiseFileError('noise_incompatible', 'steps differ', 'steps'),
      job('noise_incompatible', 'steps differ'),
    ],
    [
      'models: an image too large',
      () => new ImageError('image_too_large', 'too big'),
      job('image_too_large', 'too big'),
    ],
    [
      'models: a prompt the model cannot read',
      () => new ModelError('prompt_no_match', 'no shape named'),
      job('prompt_no_match', 'no shape named'),
    ],
    [
      'models: a runtime failure',
      () => new ModelError('runtime_load_failed', 'bad graph'),
      job('runtime_load_failed', 'bad graph'),
    ],
    [
      'models: no tokenizer',
      () => new TokenizerError('tokenizer_not_found', 'no tokenizer/'),
      job('tokenizer_not_found', 'no tokenizer/'),
    ],
    [
      'worker: a missing bundle',
      () => new WorkerError('model_not_found', 'models/x/ is empty'),
      job('model_not_found', 'models/x/ is empty'),
    ],
    [
      'worker: a model failure with a network cause stays final',
      () => new WorkerError('model_error', 'eps failed', { cause: nodeError('ECONNRESET') }),
      job('model_error', 'eps failed'),
    ],
    [
      'core: an API error',
      () => new ApiError(400, 'invalid_request', 'no prompt', { field: 'prompt' }),
      job('invalid_request', 'no prompt'),
    ],
  ])('%s', async (_, make, expected) => {
    const error = await make();
    expect(error).toBeInstanceOf(CodedError);
    expect(classify(error)).toEqual(expected);
  });
});

test('a run aborted from outside is not the job failing: whoever stopped it settles it', () => {
  expect(classify(new EngineError('aborted', 'the run was aborted'))).toEqual(unexpected);
});

test('S3 overloaded, throttling, timeouts and dropped connections are transient', () => {
  for (const error of [
    serviceError('SlowDown', 503, true),
    serviceError('InternalError', 500),
    serviceError('Unknown', 429),
    serviceError('SomeNewRetryableError', 400, true),
    named('TimeoutError', 'timed out'),
    named('ThrottlingException', 'slow'),
    ...['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN'].map(nodeError),
    // fetch-style wrapping: the network error is the cause.
    new TypeError('fetch failed', { cause: nodeError('ECONNRESET') }),
  ]) {
    expect(classify(error), String(error)).toEqual(transient);
  }
});

test('a bundle or a request that is wrong stays wrong; anything untyped is a bug to retry', () => {
  for (const error of [
    serviceError('NoSuchBucket', 404),
    serviceError('AccessDenied', 403),
    new SyntaxError('Unexpected token n in JSON at position 2'),
    Object.assign(new Error('no such file'), { code: 'ENOENT' }),
    new DOMException('This operation was aborted', 'AbortError'),
    new TypeError("Cannot read properties of undefined (reading 'x')"),
    'ECONNRESET',
    undefined,
  ]) {
    expect(classify(error), String(error)).toEqual(unexpected);
  }
});

test('the base keeps code, message, cause and details', () => {
  const cause = new Error('root');
  const error = new CodedError('some_code', 'what went wrong', { cause, details: { field: 'x' } });
  expect(error).toMatchObject({
    code: 'some_code',
    message: 'what went wrong',
    cause,
    details: { field: 'x' },
  });
  expect(new ApiError(404, 'job_not_found', 'no such job', { jobId: 'j' }).toBody()).toEqual({
    error: { code: 'job_not_found', message: 'no such job', details: { jobId: 'j' } },
  });
});
