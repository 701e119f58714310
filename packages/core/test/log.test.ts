import { CodedError, createLogger, describeError } from '@obelm/core';
import { afterEach, beforeEach, expect, test, vi } from 'vitest';

/** The JSON lines written to `stream` while `run` runs. */
function linesOf(stream: NodeJS.WriteStream, run: () => void): Record<string, unknown>[] {
  const lines: string[] = [];
  const spy = vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    run();
  } finally {
    spy.mockRestore();
  }
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

const levelVars = ['POWERTOOLS_LOG_LEVEL', 'OBELM_LOG_LEVEL', 'LOG_LEVEL'] as const;
const saved = Object.fromEntries(levelVars.map((name) => [name, process.env[name]]));
beforeEach(() => {
  for (const name of levelVars) delete process.env[name];
});
afterEach(() => {
  for (const name of levelVars) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
});

test("a job's lines are JSON with the service, the logger's keys, the job's id and tenant, and the fields", () => {
  const log = createLogger('worker', { workerId: 'w-1' });
  const [line, ...rest] = linesOf(process.stdout, () =>
    log.child({ jobId: 'job_1', tenant: 'acme' }).info('job started', { attempt: 1 }),
  );
  expect(rest).toEqual([]);
  expect(line).toMatchObject({
    level: 'INFO',
    message: 'job started',
    service: 'worker',
    workerId: 'w-1',
    jobId: 'job_1',
    tenant: 'acme',
    attempt: 1,
  });
  expect(Date.parse(String(line?.['timestamp']))).not.toBeNaN();
  // The child's keys stay on the child.
  expect(linesOf(process.stdout, () => log.info('worker started'))[0]).not.toHaveProperty('jobId');
});

test('warnings and errors go to stderr', () => {
  const log = createLogger('api');
  const lines = linesOf(process.stderr, () => {
    log.warn('slow', { ms: 5 });
    log.error('broken', describeError(new CodedError('bad_thing', 'it broke')));
  });
  expect(lines).toMatchObject([
    { level: 'WARN', message: 'slow', ms: 5 },
    { level: 'ERROR', message: 'broken', error: 'it broke', errorName: 'Error', code: 'bad_thing' },
  ]);
});

test('the level comes from POWERTOOLS_LOG_LEVEL, else OBELM_LOG_LEVEL, else INFO', () => {
  const infoLines = () => linesOf(process.stdout, () => createLogger('worker').info('hello')).length;
  expect(infoLines()).toBe(1);
  process.env['OBELM_LOG_LEVEL'] = 'warn';
  expect(infoLines()).toBe(0);
  process.env['POWERTOOLS_LOG_LEVEL'] = 'DEBUG';
  expect(infoLines()).toBe(1);
});

test('describeError names a thrown value of any kind', () => {
  expect(describeError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))).toEqual({
    error: 'refused',
    errorName: 'Error',
    code: 'ECONNREFUSED',
  });
  expect(describeError('plain')).toEqual({ error: 'plain' });
});
