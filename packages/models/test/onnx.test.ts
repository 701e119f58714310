import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { attr, GraphBuilder } from '../src/testing.ts';

/** y = softmax(x * w + b) over the last axis, plus a Constant and an int64 Gather: covers most writer paths. */
function smallModel(): GraphBuilder {
  const g = new GraphBuilder('small');
  const x = g.input('x', 'float32', ['B', 3]);
  const idx = g.input('idx', 'int64', ['B']);
  const w = g.initializer('w', 'float32', [3], Float32Array.of(1, -2, 0.5));
  const half = g.initializer('half', 'float16', [1], Uint16Array.of(0x3800)); // 0.5
  const table = g.initializer('table', 'float32', [4], Float32Array.of(10, 20, 30, 40));
  const one = g.node('Constant', [], { value: attr.tensor('int64', [1], BigInt64Array.of(1n)) });
  const halfF32 = g.node('Cast', [half], { to: attr.int(1) });
  const scaled = g.node('Mul', [g.node('Mul', [x, w]), halfF32]);
  g.node('Softmax', [scaled], { axis: attr.int(-1) }, 'probs');
  const picked = g.node('Gather', [table, idx], { axis: attr.int(0) });
  g.node('Unsqueeze', [picked, one], {}, 'picked');
  g.output('probs', 'float32', ['B', 3]);
  g.output('picked', 'float32', ['B', 1]);
  return g;
}

describe('GraphBuilder', () => {
  it('writes the same bytes for the same graph', () => {
    expect(Buffer.from(smallModel().toBytes()).equals(Buffer.from(smallModel().toBytes()))).toBe(true);
  });

  it('writes models that onnxruntime loads and runs correctly', async () => {
    const session = await ort.InferenceSession.create(smallModel().toBytes());
    expect(session.inputNames).toEqual(['x', 'idx']);
    const x = Float32Array.of(1, 2, 3, -1, 0, 4);
    const out = await session.run({
      x: new ort.Tensor('float32', x, [2, 3]),
      idx: new ort.Tensor('int64', BigInt64Array.of(3n, 0n), [2]),
    });
    const w = [1, -2, 0.5];
    for (let b = 0; b < 2; b++) {
      const z = [0, 1, 2].map((j) => x[b * 3 + j]! * w[j]! * 0.5);
      const e = z.map((v) => Math.exp(v - Math.max(...z)));
      const sum = e.reduce((a, c) => a + c, 0);
      for (let j = 0; j < 3; j++) expect(out.probs!.data[b * 3 + j]).toBeCloseTo(e[j]! / sum, 6);
    }
    expect(Array.from(out.picked!.data as Float32Array)).toEqual([40, 10]);
    expect(out.picked!.dims).toEqual([2, 1]);
  });

  it('rejects a graph that reads an undefined value or reuses a name', () => {
    const g = new GraphBuilder('bad');
    g.input('x', 'float32', [1]);
    g.node('Relu', ['nope'], {}, 'y');
    g.output('y', 'float32', [1]);
    expect(() => g.toBytes()).toThrow(expect.objectContaining({ code: 'onnx_invalid_graph' }));
    expect(() => g.input('x', 'float32', [1])).toThrow(/defined twice/);
  });

  it('rejects initializer data that does not fill its dims or has the wrong array type', () => {
    const g = new GraphBuilder('bad');
    g.initializer('short', 'float32', [2, 2], new Float32Array(3));
    g.node('Identity', ['short'], {}, 'y');
    g.output('y', 'float32', [2, 2]);
    expect(() => g.toBytes()).toThrow(expect.objectContaining({ code: 'onnx_invalid_graph' }));
    const h = new GraphBuilder('bad2');
    h.initializer('wrong', 'int64', [1], new Float32Array(1));
    h.node('Identity', ['wrong'], {}, 'y');
    h.output('y', 'int64', [1]);
    expect(() => h.toBytes()).toThrow(/BigInt64Array/);
  });
});
