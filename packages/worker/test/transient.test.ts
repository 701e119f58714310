import { S3ServiceException } from '@aws-sdk/client-s3';
import { expect, test } from 'vitest';
import { WorkerError } from '../src/errors.ts';
import { isTransientError } from '../src/transient.ts';

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

test('S3 overloaded, throttling, timeouts and dropped connections are transient', () => {
  expect(isTransientError(serviceError('SlowDown', 503, true))).toBe(true);
  expect(isTransientError(serviceError('InternalError', 500))).toBe(true);
  expect(isTransientError(serviceError('Unknown', 429))).toBe(true);
  expect(isTransientError(serviceError('SomeNewRetryableError', 400, true))).toBe(true);
  expect(isTransientError(Object.assign(new Error('timed out'), { name: 'TimeoutError' }))).toBe(true);
  expect(isTransientError(Object.assign(new Error('slow'), { name: 'ThrottlingException' }))).toBe(true);
  for (const code of ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN']) {
    expect(isTransientError(nodeError(code)), code).toBe(true);
  }
  // fetch-style wrapping: the network error is the cause.
  expect(isTransientError(new TypeError('fetch failed', { cause: nodeError('ECONNRESET') }))).toBe(true);
});

test('a bundle or a request that is wrong stays wrong: not transient', () => {
  expect(isTransientError(serviceError('NoSuchBucket', 404))).toBe(false);
  expect(isTransientError(serviceError('AccessDenied', 403))).toBe(false);
  expect(isTransientError(new SyntaxError('Unexpected token n in JSON at position 2'))).toBe(false);
  expect(isTransientError(Object.assign(new Error('no such file'), { code: 'ENOENT' }))).toBe(false);
  expect(isTransientError(new WorkerError('model_not_found', 'models/x/ is empty'))).toBe(false);
  expect(isTransientError(new DOMException('This operation was aborted', 'AbortError'))).toBe(false);
  expect(isTransientError('ECONNRESET')).toBe(false);
  expect(isTransientError(undefined)).toBe(false);
});
