/** The analytic Gaussian model as a loadable pixel bundle: ground truth for end-to-end accuracy tests. */
import { alphasCumprod, type ScheduleConfig, SD_SCHEDULE } from '@obelm/engine';
import { writeBundle } from '../bundle/write.ts';
import { DEMO_DEFAULTS } from './bundle.ts';
import { buildGaussianGraph, type GaussianSpec } from './gaussian.ts';

/** Writes a `kind: 'pixel'`, unconditional bundle for data N(mu, diag s^2) into `dir`; returns `dir`. */
export async function writeGaussianBundle(
  dir: string,
  spec: GaussianSpec,
  schedule: ScheduleConfig = SD_SCHEDULE,
): Promise<string> {
  const [channels = 1, height = 1, width = 1] = spec.shape.length === 3 ? spec.shape : [1, 1, spec.mu.length];
  await writeBundle(
    dir,
    {
      format: 1,
      id: 'gaussian-test',
      kind: 'pixel',
      description: 'Analytic Gaussian model (docs/math.md §11.1): exact eps, closed-form flow',
      imageSize: [height, width],
      latentShape: [1, channels, height, width],
      schedule,
      defaults: DEMO_DEFAULTS,
      files: { unet: 'unet.onnx' },
      conditioning: 'none',
    },
    {
      'unet.onnx': buildGaussianGraph({ ...spec, shape: [channels, height, width] }, alphasCumprod(schedule)),
    },
  );
  return dir;
}
