import { afterAll } from 'vitest';

/**
 * Test files share their process and module graph (vitest.config.ts: `isolate: false`), so the environment one
 * file changes (a stack's endpoints assigned into process.env for in-process SDK clients) would reach the next.
 * Run before every file: the environment as the file found it comes back when the file ends.
 */
const before = { ...process.env };

afterAll(() => {
  for (const name of Object.keys(process.env)) if (!(name in before)) delete process.env[name];
  Object.assign(process.env, before);
});
