import { describe, expect, it } from 'vitest';
import type { OnnxDType } from '../src/onnx/graph.ts';
import { castForInput, float64ToHalf, halfToFloat64 } from '../src/runtime/cast.ts';
import { ModelError } from '../src/runtime/errors.ts';
import { openSession } from '../src/runtime/session.ts';
import { cudaProviderInstalled, GraphBuilder } from '../src/testing.ts';

/** out = sample * 2 + timestep, with the sample and timestep types of a given export. */
function affineModel(sampleType: OnnxDType, timestepType: OnnxDType): Uint8Array {
  const g = new GraphBuilder('affine');
  const sample = g.input('sample', sampleType, ['B', 2]);
  const t = g.input('timestep', timestepType, ['B']);
  const tCast = g.node('Cast', [t], { to: { kind: 'int', value: sampleType === 'float16' ? 10 : 1 } });
  const tCol = g.node('Unsqueeze', [tCast, g.initializer('axes', 'int64', [1], BigInt64Array.of(1n))]);
  const two = g.initializer(
    'two',
    sampleType,
    [],
    sampleType === 'float16' ? Uint16Array.of(0x4000) : Float32Array.of(2),
  );
  g.node('Add', [g.node('Mul', [sample, two]), tCol], {}, 'out_sample');
  g.output('out_sample', sampleType, ['B', 2]);
  return g.toBytes();
}

describe('cast', () => {
  it('rounds float64 to float32 exactly once (Math.fround)', () => {
    const x = Float64Array.of(0.1, 1 + 2 ** -24 + 2 ** -50, -3.3e-12, 1e30);
    const t = castForInput('x', { dtype: 'float64', dims: [4], data: x }, 'float32');
    expect(Array.from(t.data as Float32Array)).toEqual(Array.from(x, Math.fround));
  });

  it('rounds float64 to float16 to nearest even without double rounding', () => {
    expect(float64ToHalf(1)).toBe(0x3c00);
    expect(float64ToHalf(-2)).toBe(0xc000);
    expect(float64ToHalf(65504)).toBe(0x7bff);
    expect(float64ToHalf(65520)).toBe(0x7c00); // rounds up to infinity
    expect(float64ToHalf(2 ** -24)).toBe(0x0001);
    expect(float64ToHalf(1 + 2 ** -11)).toBe(0x3c00); // tie -> even
    expect(float64ToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie -> even (up)
    // Just above a tie: float32 would round it to the tie first (then to even); float64 rounding goes up.
    expect(float64ToHalf(1 + 2 ** -11 + 2 ** -40)).toBe(0x3c01);
    for (let h = 0; h < 0x7c00; h += 7) expect(float64ToHalf(halfToFloat64(h))).toBe(h);
  });

  it('rejects a non-integer value for an integer input', () => {
    expect(() =>
      castForInput('t', { dtype: 'float64', dims: [1], data: Float64Array.of(1.5) }, 'int64'),
    ).toThrow(expect.objectContaining({ code: 'runtime_bad_feed' }));
  });
});

describe('openSession', () => {
  const sample = { dtype: 'float64', dims: [2, 2], data: Float64Array.of(0.1, -1, 2.5, 3) } as const;
  const timestep = { dtype: 'float64', dims: [2], data: Float64Array.of(999, 1) } as const;

  for (const [sampleType, timestepType] of [
    ['float32', 'int64'],
    ['float32', 'float32'],
    ['float16', 'int64'],
  ] as const) {
    it(`feeds float64 host tensors to a ${sampleType}/${timestepType} export and returns float64`, async () => {
      const session = await openSession(affineModel(sampleType, timestepType), { provider: 'cpu' });
      expect(session.inputs.get('timestep')?.dtype).toBe(timestepType);
      const out = (await session.run({ sample, timestep })).out_sample!;
      expect(out.dtype).toBe('float64');
      expect(out.dims).toEqual([2, 2]);
      const round = sampleType === 'float16' ? (v: number) => halfToFloat64(float64ToHalf(v)) : Math.fround;
      const expected = [0, 1, 2, 3].map((i) => round(round(sample.data[i]!) * 2 + timestep.data[i >> 1]!));
      expect(Array.from(out.data as Float64Array)).toEqual(expected);
      await session.release();
    });
  }

  it('rejects missing and unknown feeds with a typed error', async () => {
    const session = await openSession(affineModel('float32', 'int64'), { provider: 'cpu' });
    await expect(session.run({ sample })).rejects.toMatchObject({ code: 'runtime_bad_feed' });
    await expect(session.run({ sample, timestep, extra: timestep })).rejects.toMatchObject({
      code: 'runtime_bad_feed',
    });
  });

  // biome-ignore lint/plugin/noSilentSkip: with the CUDA provider library installed, 'cuda' loads and there is nothing to refuse
  it.skipIf(cudaProviderInstalled())(
    'refuses an unavailable GPU provider with a typed error rather than running on cpu',
    async () => {
      const warnings: string[] = [];
      const opening = openSession(affineModel('float32', 'int64'), {
        provider: 'cuda',
        logger: (m) => warnings.push(m),
      });
      await expect(opening).rejects.toBeInstanceOf(ModelError);
      await expect(opening).rejects.toMatchObject({
        code: 'provider_unavailable',
        hostAtFault: true,
        message: expect.stringMatching(
          /^CUDA execution provider failed to load: .+; refusing to run on CPU$/,
        ),
      });
      expect(warnings).toEqual([]);
    },
  );

  it('runs on cpu with a warning when the fallback is allowed and the provider is unavailable', async () => {
    const warnings: string[] = [];
    const session = await openSession(affineModel('float32', 'int64'), {
      provider: 'cuda',
      cpuFallback: true,
      logger: (m) => warnings.push(m),
    });
    // Here (no CUDA library) it is cpu; a GPU machine legitimately keeps 'cuda'.
    if (!cudaProviderInstalled()) expect(session.provider).toBe('cpu');
    if (session.provider === 'cpu') expect(warnings.join('\n')).toMatch(/'cuda' is unavailable.*using 'cpu'/);
    const out = (await session.run({ sample, timestep })).out_sample!;
    expect(out.data[0]).toBeCloseTo(999.2, 4);
  });

  it('blames the model, not the provider, for a model that cannot load on the provider in use', async () => {
    const opening = openSession(Uint8Array.of(1, 2, 3), { provider: 'cuda', cpuFallback: true });
    await expect(opening).rejects.toMatchObject({ code: 'runtime_load_failed', hostAtFault: false });
  });

  it('reports a model that cannot be loaded with a typed error', async () => {
    await expect(openSession(Uint8Array.of(1, 2, 3), { provider: 'cpu' })).rejects.toMatchObject({
      code: 'runtime_load_failed',
    });
  });
});
