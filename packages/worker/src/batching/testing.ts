/**
 * @obelm/worker/testing: fixtures for benches and tests, kept out of the package's main entry point.
 */
export { DEFAULT_STUB_GPU_COST, type StubGpuCost, type StubGpuModel, stubGpuModel } from './stubGpuModel.ts';
