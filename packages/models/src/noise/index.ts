export { type NoiseArtifact, readNoiseArtifact, writeNoiseArtifact } from './artifact.ts';
export { checkArtifact, checkCompatible, type NoiseExpectation } from './compatible.ts';
export { type NoiseErrorCode, NoiseFileError } from './errors.ts';
export { type NoiseMetadata, type NoiseProvenance, noiseFormatVersion } from './metadata.ts';
export { type F64Tensor, readSafetensors, type SafetensorsFile, writeSafetensors } from './safetensors.ts';
