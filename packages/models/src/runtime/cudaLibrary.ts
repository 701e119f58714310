import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * Whether this machine's onnxruntime-node has its CUDA provider library (the GPU image installs it; CI and dev
 * machines do not). Tests of the refusal to run on cpu need 'cuda' to fail for real, so they skip where it loads.
 */
export function cudaProviderInstalled(): boolean {
  const ortDist = dirname(createRequire(import.meta.url).resolve('onnxruntime-node'));
  const bin = join(ortDist, '..', 'bin', 'napi-v6', process.platform, process.arch);
  return existsSync(join(bin, 'libonnxruntime_providers_cuda.so'));
}
