import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, ServiceConfigSchema, WorkerConfigSchema } from '../src/config.ts';

const env = {
  OBELM_BUCKET: 'obelm-bucket',
  OBELM_TABLE: 'obelm-table',
  OBELM_JOBS_QUEUE_URL: 'http://127.0.0.1:9324/000000000000/jobs',
};

/** The ConfigError loadConfig throws for `input`, one `  NAME: problem` line per bad variable. */
const problems = (
  schema: typeof ServiceConfigSchema | typeof WorkerConfigSchema,
  input: Record<string, string>,
) => {
  try {
    loadConfig(schema, input);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const [title, ...lines] = (error as ConfigError).message.split('\n');
    expect(title).toBe('Invalid configuration:');
    return lines.map((line) => line.trim().split(':')[0]);
  }
  throw new Error('expected a ConfigError');
};

describe('loadConfig', () => {
  it('fills in defaults and turns numeric variables into numbers', () => {
    const config = loadConfig(WorkerConfigSchema, { ...env, OBELM_POLL_SECONDS: '3', OBELM_THREADS: '0' });
    expect(config).toMatchObject({
      ...env,
      OBELM_STAGE: 'local',
      OBELM_DEFAULT_MODEL: 'demo',
      OBELM_PROVIDER: 'cpu',
      OBELM_POLL_SECONDS: 3,
      OBELM_THREADS: 0,
    });
    expect(config.OBELM_JOB_TTL_SECONDS).toBe(24 * 3600);
  });

  it('names every missing variable at once, not just the first', () => {
    expect(problems(ServiceConfigSchema, {})).toEqual([
      'OBELM_BUCKET',
      'OBELM_TABLE',
      'OBELM_JOBS_QUEUE_URL',
    ]);
  });

  it('names each malformed variable: a URL that is not one, numbers out of range, an unknown provider', () => {
    const bad = problems(WorkerConfigSchema, {
      ...env,
      OBELM_JOBS_QUEUE_URL: 'jobs-queue',
      OBELM_PRESIGN_SECONDS: '0',
      OBELM_HEARTBEAT_SECONDS: '1.5',
      OBELM_POLL_SECONDS: '21',
      OBELM_PROVIDER: 'tpu',
      OBELM_TENANT_LIMITS: '{"requestsPerSecond":0}',
    });
    expect(bad.sort()).toEqual(
      [
        'OBELM_HEARTBEAT_SECONDS',
        'OBELM_JOBS_QUEUE_URL',
        'OBELM_POLL_SECONDS',
        'OBELM_PRESIGN_SECONDS',
        'OBELM_PROVIDER',
        // A JSON setting names the field at fault.
        'OBELM_TENANT_LIMITS.requestsPerSecond',
      ].sort(),
    );
  });

  it('reads process.env when given no environment', () => {
    const saved = Object.entries(env).map(([name]) => [name, process.env[name]] as const);
    try {
      for (const [name] of saved) delete process.env[name];
      expect(() => loadConfig(ServiceConfigSchema)).toThrow(ConfigError);
      Object.assign(process.env, env);
      expect(loadConfig(ServiceConfigSchema).OBELM_TABLE).toBe(env.OBELM_TABLE);
    } finally {
      for (const [name, value] of saved) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});
