/**
 * A dependency-free ONNX model writer (IR version 8, default opset 17): enough of ModelProto, GraphProto,
 * NodeProto, TensorProto and ValueInfoProto to build small analytic models and test bundles in TypeScript.
 * Field numbers follow onnx/onnx.proto. The same calls give the same bytes.
 *
 * @example
 * const g = new GraphBuilder('double');
 * const x = g.input('x', 'float32', ['B', 4]);
 * const two = g.initializer('two', 'float32', [], Float32Array.of(2));
 * g.node('Mul', [x, two], {}, 'y');
 * g.output('y', 'float32', ['B', 4]);
 * const bytes = g.toBytes();
 */
import { ModelError } from '../runtime/errors.ts';
import { ProtoWriter } from './protobuf.ts';
import { ONNX_ELEMENT_TYPE, type OnnxData, type OnnxDType, writeTensor } from './tensor.ts';

export type { OnnxData, OnnxDType } from './tensor.ts';

/** A node attribute; build one with the `attr` helpers. */
export type OnnxAttr =
  | { readonly kind: 'int'; readonly value: number | bigint }
  | { readonly kind: 'ints'; readonly value: readonly (number | bigint)[] }
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'floats'; readonly value: readonly number[] }
  | { readonly kind: 'string'; readonly value: string }
  | {
      readonly kind: 'tensor';
      readonly dtype: OnnxDType;
      readonly dims: readonly number[];
      readonly data: OnnxData;
    };

export const attr = {
  int: (value: number | bigint): OnnxAttr => ({ kind: 'int', value }),
  ints: (value: readonly (number | bigint)[]): OnnxAttr => ({ kind: 'ints', value }),
  float: (value: number): OnnxAttr => ({ kind: 'float', value }),
  floats: (value: readonly number[]): OnnxAttr => ({ kind: 'floats', value }),
  string: (value: string): OnnxAttr => ({ kind: 'string', value }),
  tensor: (dtype: OnnxDType, dims: readonly number[], data: OnnxData): OnnxAttr => ({
    kind: 'tensor',
    dtype,
    dims,
    data,
  }),
};

/** AttributeProto.AttributeType enum values. */
const ATTR_TYPE = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7 } as const;

interface ValueInfo {
  readonly name: string;
  readonly dtype: OnnxDType;
  readonly dims: readonly (number | string)[];
}

interface Initializer {
  readonly name: string;
  readonly dtype: OnnxDType;
  readonly dims: readonly number[];
  readonly data: OnnxData;
}

interface NodeSpec {
  readonly op: string;
  readonly name: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: Readonly<Record<string, OnnxAttr>>;
}

export class GraphBuilder {
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly initializers: Initializer[] = [];
  private readonly nodes: NodeSpec[] = [];
  private readonly names = new Set<string>();

  constructor(readonly name: string) {}

  /** Declares a graph input; dims may be symbolic ('B'). Returns its name. */
  input(name: string, dtype: OnnxDType, dims: (number | string)[]): string {
    this.claim(name);
    this.inputs.push({ name, dtype, dims: [...dims] });
    return name;
  }

  /** Declares a graph output: `name` must be produced by a node. */
  output(name: string, dtype: OnnxDType, dims: (number | string)[]): string {
    this.outputs.push({ name, dtype, dims: [...dims] });
    return name;
  }

  /** Adds a constant tensor (copied now, so later changes to `data` do not leak into the model). */
  initializer(name: string, dtype: OnnxDType, dims: number[], data: OnnxData): string {
    this.claim(name);
    this.initializers.push({ name, dtype, dims: [...dims], data: data.slice() });
    return name;
  }

  /** Adds a node; its single output is `output`, or a generated name. Returns the output name. */
  node(op: string, inputs: string[], attrs: Record<string, OnnxAttr> = {}, output?: string): string {
    const index = this.nodes.length;
    const out = output ?? `${op.toLowerCase()}_${index}`;
    this.claim(out);
    this.nodes.push({ op, name: `${op}_${index}`, inputs: [...inputs], outputs: [out], attrs: { ...attrs } });
    return out;
  }

  /** Serialises the ModelProto. */
  toBytes(opts: { opset?: number; producer?: string } = {}): Uint8Array {
    const produced = new Set([...this.inputs, ...this.initializers].map((v) => v.name));
    for (const n of this.nodes) {
      for (const i of n.inputs) {
        if (i !== '' && !produced.has(i)) {
          throw new ModelError(
            'onnx_invalid_graph',
            `node ${n.name} reads '${i}' before anything produces it`,
          );
        }
      }
      for (const o of n.outputs) produced.add(o);
    }
    for (const o of this.outputs) {
      if (!produced.has(o.name))
        throw new ModelError('onnx_invalid_graph', `output '${o.name}' is never produced`);
    }

    const w = new ProtoWriter();
    w.varint(1, 8); // ir_version
    w.string(2, opts.producer ?? 'obelm'); // producer_name
    w.message(7, (g) => this.writeGraph(g));
    w.message(8, (o) => o.string(1, '').varint(2, opts.opset ?? 17)); // opset_import (default domain)
    return w.finish();
  }

  private writeGraph(w: ProtoWriter): void {
    for (const n of this.nodes) w.message(1, (nw) => writeNode(nw, n));
    w.string(2, this.name);
    for (const t of this.initializers) w.message(5, (tw) => writeTensor(tw, t.name, t.dtype, t.dims, t.data));
    for (const v of this.inputs) w.message(11, (vw) => writeValueInfo(vw, v));
    for (const v of this.outputs) w.message(12, (vw) => writeValueInfo(vw, v));
  }

  private claim(name: string): void {
    if (this.names.has(name)) throw new ModelError('onnx_invalid_graph', `name '${name}' is defined twice`);
    this.names.add(name);
  }
}

function writeNode(w: ProtoWriter, n: NodeSpec): void {
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name);
  w.string(4, n.op);
  // Sorted attribute names keep the bytes independent of object key order.
  for (const key of Object.keys(n.attrs).sort()) w.message(5, (aw) => writeAttribute(aw, key, n.attrs[key]!));
}

function writeAttribute(w: ProtoWriter, name: string, a: OnnxAttr): void {
  w.string(1, name);
  switch (a.kind) {
    case 'float':
      w.float(2, a.value);
      break;
    case 'int':
      w.varint(3, a.value);
      break;
    case 'string':
      w.string(4, a.value);
      break;
    case 'tensor':
      w.message(5, (tw) => writeTensor(tw, name, a.dtype, a.dims, a.data));
      break;
    case 'floats':
      w.packedFloats(7, a.value);
      break;
    case 'ints':
      w.packedVarints(8, a.value);
      break;
  }
  w.varint(20, ATTR_TYPE[a.kind]);
}

function writeValueInfo(w: ProtoWriter, v: ValueInfo): void {
  w.string(1, v.name);
  // TypeProto.tensor_type { elem_type, shape { dim { dim_value | dim_param } } }
  w.message(2, (tp) =>
    tp.message(1, (tt) => {
      tt.varint(1, ONNX_ELEMENT_TYPE[v.dtype]);
      tt.message(2, (shape) => {
        for (const d of v.dims) {
          shape.message(1, (dim) => (typeof d === 'number' ? dim.varint(1, d) : dim.string(2, d)));
        }
      });
    }),
  );
}
