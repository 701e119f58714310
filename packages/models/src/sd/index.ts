export {
  inferSdManifest,
  isSdExport,
  SCHEDULER_CONFIG_RULES,
  type SchedulerKeyRule,
  scalingFactorOf,
  sd15Defaults,
  sd15Schedule,
  sdScalingFactor,
} from './config.ts';
export { openSdBundle, SdModel } from './model.ts';
