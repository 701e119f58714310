import { endianness } from 'node:os';
import { ModelError } from '../runtime/errors.ts';
import type { ProtoWriter } from './protobuf.ts';

/** Element types this writer supports, named as onnxruntime-node names them. */
export type OnnxDType = 'float32' | 'float16' | 'int64' | 'int32' | 'float64';

/** Host arrays per element type; float16 is raw IEEE half bits in a Uint16Array (no Float16Array on Node 20). */
export type OnnxData = Float32Array | BigInt64Array | Int32Array | Float64Array | Uint16Array;

/** TensorProto.DataType enum values (onnx.proto). */
export const ONNX_ELEMENT_TYPE: Record<OnnxDType, number> = {
  float32: 1,
  int32: 6,
  int64: 7,
  float16: 10,
  float64: 11,
};

const ARRAY_OF: Record<OnnxDType, new (n: number) => OnnxData> = {
  float32: Float32Array,
  int32: Int32Array,
  int64: BigInt64Array,
  float16: Uint16Array,
  float64: Float64Array,
};

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Writes a TensorProto (dims, data_type, name, raw_data) into `w`. raw_data is little-endian by spec. */
export function writeTensor(
  w: ProtoWriter,
  name: string,
  dtype: OnnxDType,
  dims: readonly number[],
  data: OnnxData,
): void {
  if (!(data instanceof ARRAY_OF[dtype])) {
    throw new ModelError('onnx_invalid_graph', `tensor '${name}': ${dtype} needs a ${ARRAY_OF[dtype].name}`);
  }
  if (data.length !== elementCount(dims)) {
    throw new ModelError(
      'onnx_invalid_graph',
      `tensor '${name}': ${data.length} elements do not fill dims [${dims.join(', ')}]`,
    );
  }
  if (endianness() !== 'LE')
    throw new ModelError('onnx_invalid_graph', 'the ONNX writer needs a little-endian host');
  w.packedVarints(1, dims);
  w.varint(2, ONNX_ELEMENT_TYPE[dtype]);
  w.string(8, name);
  w.bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}
