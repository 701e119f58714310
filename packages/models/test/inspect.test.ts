import { mkdtempSync } from 'node:fs';
import { mkdir, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { RANDOM_OPS, refuseRandomOps } from '../src/bundle/determinism.ts';
import { onnxOpTypes } from '../src/onnx/inspect.ts';
import { ProtoWriter } from '../src/onnx/protobuf.ts';
import { ModelError } from '../src/runtime/errors.ts';
import { attr, GraphBuilder } from '../src/testing.ts';

const root = mkdtempSync(join(tmpdir(), 'obelm-inspect-'));
afterAll(() => rm(root, { recursive: true, force: true }));

/** NodeProto: inputs (1), outputs (2), op_type (4), attributes (5), domain (7). */
function node(
  w: ProtoWriter,
  op: string,
  inputs: string[],
  outputs: string[],
  more: (n: ProtoWriter) => void = () => {},
  domain?: string,
): void {
  for (const i of inputs) w.string(1, i);
  for (const o of outputs) w.string(2, o);
  w.string(4, op);
  more(w);
  if (domain !== undefined) w.string(7, domain);
}

/** ValueInfoProto of a float tensor of shape [2]. */
function floatValue(w: ProtoWriter, name: string): void {
  w.string(1, name);
  w.message(2, (tp) =>
    tp.message(1, (tt) => tt.varint(1, 1).message(2, (shape) => shape.message(1, (d) => d.varint(1, 2)))),
  );
}

/** A GraphProto (field 1 nodes, 2 name, 11 inputs, 12 outputs) with one node. */
function graph(w: ProtoWriter, name: string, build: (g: ProtoWriter) => void, output: string): void {
  build(w);
  w.string(2, name);
  w.message(12, (v) => floatValue(v, output));
}

/**
 * y = If(flag, then: RandomUniformLike(x), else: Identity(x)), z = local.Noisy(x) whose function body is
 * Bernoulli(Sigmoid(a)): random ops only inside a subgraph and a model-local function.
 */
function nestedModel(): Uint8Array {
  const w = new ProtoWriter();
  w.varint(1, 8);
  w.message(7, (g) => {
    g.message(1, (n) =>
      node(n, 'Cast', ['flag'], ['cond'], (a) =>
        a.message(5, (at) => at.string(1, 'to').varint(3, 9).varint(20, 2)),
      ),
    );
    g.message(1, (n) =>
      node(n, 'If', ['cond'], ['y'], (a) => {
        a.message(5, (at) =>
          at
            .string(1, 'then_branch')
            .message(6, (sub) =>
              graph(
                sub,
                'then',
                (s) => s.message(1, (sn) => node(sn, 'RandomUniformLike', ['x'], ['t'])),
                't',
              ),
            )
            .varint(20, 5),
        );
        a.message(5, (at) =>
          at
            .string(1, 'else_branch')
            .message(6, (sub) =>
              graph(sub, 'else', (s) => s.message(1, (sn) => node(sn, 'Identity', ['x'], ['e'])), 'e'),
            )
            .varint(20, 5),
        );
      }),
    );
    g.message(1, (n) => node(n, 'Noisy', ['x'], ['z'], undefined, 'local'));
    g.string(2, 'nested');
    g.message(5, (t) => t.packedVarints(1, []).varint(2, 7).string(8, 'flag').bytes(9, new Uint8Array(8)));
    g.message(11, (v) => floatValue(v, 'x'));
    g.message(12, (v) => floatValue(v, 'y'));
    g.message(12, (v) => floatValue(v, 'z'));
  });
  w.message(8, (o) => o.string(1, '').varint(2, 17));
  w.message(8, (o) => o.string(1, 'local').varint(2, 1));
  // FunctionProto: name (1), input (4), output (5), node (7), opset_import (9), domain (10).
  w.message(25, (f) => {
    f.string(1, 'Noisy').string(4, 'a').string(5, 'b');
    f.message(7, (n) => node(n, 'Sigmoid', ['a'], ['p']));
    f.message(7, (n) => node(n, 'Bernoulli', ['p'], ['b']));
    f.message(9, (o) => o.string(1, '').varint(2, 17));
    f.string(10, 'local');
  });
  return w.finish();
}

describe('onnxOpTypes', () => {
  it('lists the op types of a model', async () => {
    const g = new GraphBuilder('small');
    const x = g.input('x', 'float32', [2]);
    const y = g.node('Relu', [g.node('Mul', [x, g.initializer('w', 'float32', [2], Float32Array.of(1, 2))])]);
    g.node('Softmax', [y], { axis: attr.int(0) }, 'out');
    g.output('out', 'float32', [2]);
    const path = join(root, 'small.onnx');
    await writeFile(path, g.toBytes());
    expect([...(await onnxOpTypes(path))].sort()).toEqual(['Mul', 'Relu', 'Softmax']);
  });

  it('finds ops inside subgraphs and model-local functions of a model onnxruntime runs', async () => {
    const bytes = nestedModel();
    // onnxruntime loads it: the field numbers written above are ONNX's.
    const session = await ort.InferenceSession.create(bytes);
    const out = await session.run({ x: new ort.Tensor('float32', Float32Array.of(0.5, -1), [2]) });
    expect(Array.from(out.y!.data as Float32Array)).toEqual([0.5, -1]); // flag = 0: the else branch
    await session.release();
    const path = join(root, 'nested.onnx');
    await writeFile(path, bytes);
    expect([...(await onnxOpTypes(path))].sort()).toEqual(
      ['Bernoulli', 'Cast', 'Identity', 'If', 'Noisy', 'RandomUniformLike', 'Sigmoid'].sort(),
    );
  });

  it('finds ops in a graph held by a `graphs` attribute, at any depth', async () => {
    const w = new ProtoWriter();
    w.message(7, (g) =>
      g.message(1, (n) =>
        node(n, 'Outer', [], [], (a) =>
          a.message(5, (at) =>
            at
              .string(1, 'bodies')
              .message(11, (sub) =>
                sub.message(1, (inner) =>
                  node(inner, 'Inner', [], [], (ia) =>
                    ia.message(5, (iat) =>
                      iat
                        .string(1, 'body')
                        .message(6, (deep) => deep.message(1, (d) => node(d, 'Multinomial', [], []))),
                    ),
                  ),
                ),
              ),
          ),
        ),
      ),
    );
    const path = join(root, 'graphs.onnx');
    await writeFile(path, w.finish());
    expect([...(await onnxOpTypes(path))].sort()).toEqual(['Inner', 'Multinomial', 'Outer']);
  });

  it('steps over a 5 GiB initializer without reading it (offsets and lengths above 2^32)', async () => {
    // A sparse file: nodes, then an initializer whose 5 GiB of bytes are never written, then more nodes.
    const weights = 5 * 2 ** 30;
    const before = new ProtoWriter().message(1, (n) => node(n, 'Relu', ['x'], ['r'])).finish();
    const after = new ProtoWriter().message(1, (n) => node(n, 'RandomNormal', [], ['noise'])).finish();
    const initializerHead = varintField(5, weights);
    const graphLength = before.length + initializerHead.length + weights + after.length;
    const head = Buffer.concat([varintField(7, graphLength), before, initializerHead]);
    const path = join(root, 'huge.onnx');
    const file = await open(path, 'w');
    try {
      await file.write(head, 0, head.length, 0);
      await file.write(after, 0, after.length, head.length + weights);
    } finally {
      await file.close();
    }
    expect([...(await onnxOpTypes(path))].sort()).toEqual(['RandomNormal', 'Relu']);
    await rm(path);
  });

  it('refuses a truncated or garbled file with a typed error', async () => {
    const g = new GraphBuilder('small');
    g.node('Relu', [g.input('x', 'float32', [2])], {}, 'y');
    g.output('y', 'float32', [2]);
    const bytes = g.toBytes();
    const path = join(root, 'truncated.onnx');
    await writeFile(path, bytes.subarray(0, bytes.length - 3));
    await expect(onnxOpTypes(path)).rejects.toMatchObject({ code: 'runtime_load_failed' });
    await writeFile(path, Buffer.from('not an onnx model at all'));
    await expect(onnxOpTypes(path)).rejects.toBeInstanceOf(ModelError);
    await expect(onnxOpTypes(join(root, 'missing.onnx'))).rejects.toMatchObject({ code: 'bundle_not_found' });
  });
});

/** Tag and length of a length-delimited field whose body is written elsewhere. */
function varintField(field: number, length: number): Buffer {
  const bytes = [field * 8 + 2];
  for (let v = length; ; ) {
    const low = v % 128;
    v = Math.floor(v / 128);
    bytes.push(v > 0 ? low | 0x80 : low);
    if (v === 0) break;
  }
  return Buffer.from(bytes);
}

describe('refuseRandomOps', () => {
  const model = (op: string) => {
    const g = new GraphBuilder(op);
    g.node(op, [g.input('x', 'float32', [2])], {}, 'y');
    g.output('y', 'float32', [2]);
    return g.toBytes();
  };

  it('passes a folder of deterministic models', async () => {
    const dir = join(root, 'clean');
    await mkdir(join(dir, 'unet'), { recursive: true });
    await writeFile(join(dir, 'unet', 'model.onnx'), model('Relu'));
    await writeFile(join(dir, 'eps.onnx'), model('Tanh'));
    await expect(refuseRandomOps(dir)).resolves.toBeUndefined();
  });

  it.each(RANDOM_OPS)('refuses %s in a top-level model file, naming the file and the op', async (op) => {
    const dir = join(root, `random-${op}`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'eps.onnx'), model('Relu'));
    await writeFile(join(dir, 'noisy.onnx'), model(op));
    const error = await refuseRandomOps(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelError);
    expect(error).toMatchObject({ code: 'bundle_invalid_manifest' });
    expect((error as Error).message).toContain(`noisy.onnx has random ops (${op})`);
    expect((error as Error).message).toMatch(/not reproducible.*optimum-cli export onnx/);
  });
});
