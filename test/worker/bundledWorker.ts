/**
 * The worker as the container runs it: the esbuild bundle (scripts/bundleWorker.ts, the Dockerfile's build)
 * started with plain node, for the bundle test and the worker bench.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { bundleWorker } from '../../scripts/bundleWorker.ts';

const NODE_MODULES = fileURLToPath(new URL('../../node_modules', import.meta.url));

/**
 * Builds `<dir>/worker.mjs` and links the repository's node_modules beside it, where the image has the native
 * packages (/app/node_modules): the bundle imports only those from there.
 */
export async function buildWorkerBundle(dir: string): Promise<string> {
  const file = join(dir, 'worker.mjs');
  await bundleWorker(file);
  if (!existsSync(join(dir, 'node_modules'))) symlinkSync(NODE_MODULES, join(dir, 'node_modules'), 'dir');
  return file;
}

export interface BundledWorker {
  child: ChildProcess;
  /** Milliseconds from spawn to the "worker started" log line (polling the queue). */
  startedMs: number;
  /** Milliseconds from spawn to its health file: the configured model is loaded (what ECS waits for). */
  ready: Promise<number>;
  /** Everything it wrote, for a failure message. */
  output(): string;
  stop(): Promise<void>;
}

/** Spawns `node --enable-source-maps <file>` (the image's ENTRYPOINT) and resolves once it polls the queue. */
export async function startBundledWorker(file: string, env: Record<string, string>): Promise<BundledWorker> {
  const healthFile = join(env['OBELM_MODEL_CACHE'] ?? '.', `health-${process.pid}-${Date.now()}`);
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, ['--enable-source-maps', file], {
    env: { ...process.env, ...env, OBELM_HEALTH_FILE: healthFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const lines = createInterface({ input: child.stdout! });
  const exited = new Promise<never>((_, reject) => {
    child.once('exit', (code, signal) =>
      reject(new Error(`bundled worker exited (${code ?? signal}):\n${out}`)),
    );
  });
  exited.catch(() => {}); // observed through the races below
  const started = new Promise<number>((resolve) => {
    lines.on('line', (line) => {
      out += `${line}\n`;
      if (line.includes('"worker started"')) resolve(performance.now() - spawnedAt);
    });
  });
  const startedMs = await Promise.race([started, exited]);
  const ready = Promise.race([
    (async () => {
      while (!existsSync(healthFile)) await new Promise((r) => setTimeout(r, 10));
      return performance.now() - spawnedAt;
    })(),
    exited,
  ]);
  ready.catch(() => {});
  return {
    child,
    startedMs,
    ready,
    output: () => out,
    stop: () =>
      child.exitCode !== null || child.signalCode !== null
        ? Promise.resolve()
        : new Promise((resolve) => {
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
  };
}
