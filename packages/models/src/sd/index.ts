export {
  inferSdManifest,
  isSdExport,
  scalingFactorOf,
  sd15Defaults,
  sd15Schedule,
  sdScalingFactor,
} from './config.ts';
export { openSdBundle, SdModel } from './model.ts';
