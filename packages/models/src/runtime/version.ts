import { env } from 'onnxruntime-node';

/** The onnxruntime-node build sessions run on: part of where eps was computed (a noise artifact's provenance). */
export const onnxruntimeVersion: string = env.versions.node ?? env.versions.common;
