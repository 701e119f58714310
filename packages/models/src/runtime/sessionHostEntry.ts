/**
 * Where the session host's code is, in each way this code runs, and how its thread starts:
 * - from the TypeScript sources (npm start and the CLI through tsx, vitest): sessionHost.ts beside this file;
 * - from an esbuild bundle (the worker image, the test bundles): esbuild does not follow `new Worker(url)`, so
 *   the build scripts bundle SESSION_HOST_SOURCE as a second file and name it, relative to the main bundle, in
 *   the build-time constant `OBELM_SESSION_HOST` (`sessionHostDefine`).
 */
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

/** Replaced by the bundled host's path (relative to the bundle) in a bundle; undeclared everywhere else. */
declare const OBELM_SESSION_HOST: string | undefined;

const HOST_SOURCE_URL = new URL('./sessionHost.ts', import.meta.url);

/** The host's source file: the entry point the build scripts bundle. */
export const SESSION_HOST_SOURCE: string = fileURLToPath(HOST_SOURCE_URL);

/** esbuild `define` for a bundle whose host was bundled to `hostFile` (relative to the bundle, './x.mjs'). */
export function sessionHostDefine(hostFile: string): Record<string, string> {
  return { OBELM_SESSION_HOST: JSON.stringify(hostFile) };
}

/** Starts a session host thread with its gate (sessionProtocol.ts) as workerData. */
export function startSessionHost(gate: SharedArrayBuffer): Worker {
  if (typeof OBELM_SESSION_HOST === 'string') {
    // Inherits the process's flags (the image's --enable-source-maps maps the host bundle's stacks too).
    return new Worker(new URL(OBELM_SESSION_HOST, import.meta.url), { workerData: gate });
  }
  // Node 20 does not apply the hooks of `--import tsx` in a worker's execArgv to the worker's entry module;
  // tsx registered from inside the thread does (Node 22 too). tsx is resolved from here, not from the working
  // directory, so the CLI works from anywhere. No inherited flags: the parent's own --import tsx would register
  // tsx twice.
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(HOST_SOURCE_URL.href)}); });`;
  return new Worker(boot, { eval: true, execArgv: [], workerData: gate });
}
