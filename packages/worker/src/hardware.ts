import { execFile } from 'node:child_process';
import { cpus } from 'node:os';
import type { DiffusionModel } from '@obelm/engine';
import { type NoiseProvenance, onnxruntimeVersion } from '@obelm/models';

/** How long `nvidia-smi` may take before the GPU model is reported unknown rather than holding up a job. */
const NVIDIA_SMI_TIMEOUT_MS = 5000;

/**
 * Where this process computes eps for `model`: the provider its sessions actually use, the device model and
 * the onnxruntime version. The device is looked up once per process and provider. Never from instance
 * metadata: IMDS is unreachable from the containers (hop limit 1).
 */
export async function hardwareOf(model: DiffusionModel): Promise<NoiseProvenance> {
  // A LoadedModel knows its provider; a model that is not onnxruntime's (a test's closed form) runs on the CPU.
  const provider = 'provider' in model && typeof model.provider === 'string' ? model.provider : 'cpu';
  let device = devices.get(provider);
  if (!device) {
    device = provider === 'cpu' ? Promise.resolve(cpuModel()) : gpuModel();
    devices.set(provider, device);
  }
  return { provider, device: await device, onnxruntime: onnxruntimeVersion };
}

/** Whether two provenances name the same provider, device model and onnxruntime build. */
export const sameHardware = (a: NoiseProvenance, b: NoiseProvenance): boolean =>
  a.provider === b.provider && a.device === b.device && a.onnxruntime === b.onnxruntime;

const devices = new Map<string, Promise<string>>();

const cpuModel = (): string => cpus()[0]?.model.trim() || 'unknown CPU';

/** The first GPU's name from nvidia-smi, or 'unknown GPU' when it is missing, fails or hangs. */
function gpuModel(): Promise<string> {
  return new Promise((resolve) => {
    execFile(
      'nvidia-smi',
      ['--query-gpu=name', '--format=csv,noheader'],
      { timeout: NVIDIA_SMI_TIMEOUT_MS },
      (error, stdout) => {
        const name = error ? '' : (stdout.split('\n')[0]?.trim() ?? '');
        resolve(name || 'unknown GPU');
      },
    );
  });
}
