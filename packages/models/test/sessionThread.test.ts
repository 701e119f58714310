/**
 * Sessions run in the session host thread (runtime/sessionThread.ts): the same results as onnxruntime on this
 * thread, the event loop free during a call, callers' buffers left alone, and a process that still exits.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { measureDeviceTime } from '../src/runtime/deviceTime.ts';
import { openSession } from '../src/runtime/session.ts';
import { SessionHostDied, stopSessionThread } from '../src/runtime/sessionThread.ts';
import { GraphBuilder } from '../src/testing.ts';

const dir = mkdtempSync(join(tmpdir(), 'obelm-session-thread-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** y = softmax(tanh(x W + b)) over 16 features: rounding in every op, so any difference in the call shows. */
function denseModel(): Uint8Array {
  const g = new GraphBuilder('dense');
  const w = Float32Array.from({ length: 16 * 16 }, (_, i) => Math.sin(i * 0.7) * 0.3);
  const b = Float32Array.from({ length: 16 }, (_, i) => Math.cos(i) * 0.1);
  const x = g.input('x', 'float32', ['B', 16]);
  const xw = g.node('MatMul', [x, g.initializer('w', 'float32', [16, 16], w)]);
  const h = g.node('Tanh', [g.node('Add', [xw, g.initializer('b', 'float32', [16], b)])]);
  g.node('Softmax', [h], { axis: { kind: 'int', value: -1 } }, 'y');
  g.output('y', 'float32', ['B', 16]);
  return g.toBytes();
}

/** y = x * k, with a float32 x and an int64 `step` that is added. */
function scaleModel(k: number): Uint8Array {
  const g = new GraphBuilder('scale');
  const x = g.input('x', 'float32', ['B']);
  const step = g.node('Cast', [g.input('step', 'int64', ['B'])], { to: { kind: 'int', value: 1 } });
  const scaled = g.node('Mul', [x, g.initializer('k', 'float32', [], Float32Array.of(k))]);
  g.node('Add', [scaled, step], {}, 'y');
  g.output('y', 'float32', ['B']);
  return g.toBytes();
}

/** x multiplied by itself `n + 1` times: about 50 ms on one core at size 512, n = 12. */
function matMulChain(size: number, n: number): Uint8Array {
  const g = new GraphBuilder('chain');
  const x = g.input('x', 'float32', [size, size]);
  let y = x;
  for (let i = 0; i < n; i++) y = g.node('MatMul', [y, x], {}, i === n - 1 ? 'y' : undefined);
  g.output('y', 'float32', [size, size]);
  return g.toBytes();
}

const f64 = (data: Float64Array, dims: number[]) => ({ dtype: 'float64', dims, data }) as const;

describe('sessions in the session host thread', () => {
  it('give bitwise the results of onnxruntime on the calling thread', async () => {
    const model = denseModel();
    const x = Float64Array.from({ length: 4 * 16 }, (_, i) => Math.sin(i * 1.3) * 2.5 + 1e-9 * i);
    const session = await openSession(model, { provider: 'cpu' });
    const y = (await session.run({ x: f64(x, [4, 16]) })).y!;
    await session.release();

    // The same session options as the host's, on this thread.
    const local = await ort.InferenceSession.create(model, {
      executionProviders: ['cpu'],
      executionMode: 'sequential',
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
    });
    const expected = await local.run({ x: new ort.Tensor('float32', Float32Array.from(x), [4, 16]) });
    await local.release();

    expect(y.dtype).toBe('float64');
    expect(y.dims).toEqual([4, 16]);
    const bits = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    expect(bits(y.data as Float64Array)).toEqual(bits(Float64Array.from(expected.y!.data as Float32Array)));
  });

  it('answers concurrent calls of several sessions each with its own result', async () => {
    const sessions = await Promise.all([1, 2, 3].map((k) => openSession(scaleModel(k), { provider: 'cpu' })));
    const calls = Array.from({ length: 30 }, (_, i) => {
      const k = (i % 3) + 1;
      const step = { dtype: 'int64', dims: [2], data: BigInt64Array.of(BigInt(i), 1n) } as const;
      return sessions[k - 1]!.run({ x: f64(Float64Array.of(i, -i), [2]), step }).then((out) => ({
        i,
        k,
        y: Array.from(out.y!.data as Float64Array),
      }));
    });
    for (const { i, k, y } of await Promise.all(calls)) expect(y).toEqual([i * k + i, -i * k + 1]);
    await Promise.all(sessions.map((s) => s.release()));
  });

  it('leaves the event loop free while a call runs', async () => {
    const size = 512;
    const session = await openSession(matMulChain(size, 12), { provider: 'cpu' });
    const identity = new Float64Array(size * size);
    for (let i = 0; i < size; i++) identity[i * size + i] = 1;
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      const y = (await session.run({ x: f64(identity, [size, size]) })).y!;
      expect(Buffer.from((y.data as Float64Array).buffer).equals(Buffer.from(identity.buffer))).toBe(true);
    } finally {
      clearInterval(timer);
    }
    // On this thread the call would block the loop for its whole length: no tick at all, or one.
    expect(ticks).toBeGreaterThanOrEqual(3);
    await session.release();
  });

  it('measures an inference for the work that made it: its own device time, not the call it waited behind', async () => {
    const size = 512;
    const opened: number[] = [];
    const session = await measureDeviceTime(
      () => openSession(matMulChain(size, 12), { provider: 'cpu' }),
      (ms) => opened.push(ms),
    );
    // Opening a session is no one's inference.
    expect(opened).toEqual([0]);
    const x = { x: f64(new Float64Array(size * size), [size, size]) };
    // Another piece of work's call, unmeasured, goes first; the measured one waits behind it in the host.
    const before = session.run(x);
    const started = performance.now();
    let own = -1;
    let inner = -1;
    // A measurement inside another takes its inferences away from the outer one.
    const ran = measureDeviceTime(
      async () => {
        await session.run(x);
        await measureDeviceTime(
          () => session.run(x),
          (ms) => {
            inner = ms;
          },
        );
      },
      (ms) => {
        own = ms;
      },
    );
    await Promise.all([before, ran]);
    const firstAnswerMs = performance.now() - started;
    expect(own).toBeGreaterThan(0);
    expect(inner).toBeGreaterThan(0);
    // Its wall time held three calls of about the same length (the one ahead, its own, the inner one); its
    // device time is its own call only.
    expect(own).toBeLessThan(0.6 * firstAnswerMs);
    expect(own + inner).toBeLessThan(firstAnswerMs);
    await session.release();
  });

  it("leaves the caller's arrays and model bytes usable", async () => {
    const model = scaleModel(2);
    const session = await openSession(model, { provider: 'cpu' });
    expect(model.byteLength).toBeGreaterThan(0);
    // Already of the declared types: no cast, so these are what the call would otherwise move away.
    const x = Float32Array.of(1.5, -2);
    const step = BigInt64Array.of(3n, 4n);
    const out = await session.run({
      x: { dtype: 'float32', dims: [2], data: x },
      step: { dtype: 'int64', dims: [2], data: step },
    });
    expect(Array.from(out.y!.data as Float64Array)).toEqual([6, 0]);
    expect(Array.from(x)).toEqual([1.5, -2]);
    expect(Array.from(step)).toEqual([3n, 4n]);
    await session.release();
  });

  it('reports feeds and models the host cannot use with typed errors', async () => {
    const session = await openSession(scaleModel(2), { provider: 'cpu' });
    const step = { dtype: 'float64', dims: [2], data: Float64Array.of(0.5, 1) } as const;
    await expect(session.run({ x: f64(Float64Array.of(1, 2), [2]), step })).rejects.toMatchObject({
      name: 'ModelError',
      code: 'runtime_bad_feed',
    });
    // A shape the graph cannot take fails in onnxruntime, in the host: its message comes back.
    const ragged = { dtype: 'int64', dims: [3], data: BigInt64Array.of(1n, 2n, 3n) } as const;
    await expect(session.run({ x: f64(Float64Array.of(1, 2), [2]), step: ragged })).rejects.toThrow(/./);
    // And the session still works.
    const fine = { dtype: 'int64', dims: [1], data: BigInt64Array.of(1n) } as const;
    expect((await session.run({ x: f64(Float64Array.of(5), [1]), step: fine })).y!.data).toEqual(
      Float64Array.of(11),
    );
    await session.release();

    const garbage = join(dir, 'garbage.onnx');
    writeFileSync(garbage, 'not a model');
    await expect(openSession(garbage, { provider: 'cpu' })).rejects.toMatchObject({
      name: 'ModelError',
      code: 'runtime_load_failed',
      message: expect.stringContaining(garbage),
    });
    await expect(openSession(join(dir, 'missing.onnx'), { provider: 'cpu' })).rejects.toMatchObject({
      code: 'runtime_load_failed',
    });
  });

  it('rejects the calls in flight when the host dies; later calls reopen the session in a fresh host', async () => {
    const size = 512;
    const x = () => f64(new Float64Array(size * size), [size, size]);
    const session = await openSession(matMulChain(size, 12), { provider: 'cpu' });
    const before = (await session.run({ x: x() })).y!.data;
    const pending = session.run({ x: x() }).catch((e) => e);
    await stopSessionThread();
    const error = await pending;
    expect(error).toBeInstanceOf(SessionHostDied);
    expect(error.message).toBe('the onnxruntime session host thread was stopped');
    // The same session object, opened again in a new host: the same answer, bit for bit.
    const [again, twice] = await Promise.all([session.run({ x: x() }), session.run({ x: x() })]);
    expect(Buffer.from(again.y!.data.buffer).equals(Buffer.from(before.buffer))).toBe(true);
    expect(Buffer.from(twice.y!.data.buffer).equals(Buffer.from(before.buffer))).toBe(true);
    await session.release();

    // A session whose host died and that was never used again has nothing left to free.
    const idle = await openSession(scaleModel(3), { provider: 'cpu' });
    await stopSessionThread();
    await idle.release();
    const next = await openSession(scaleModel(3), { provider: 'cpu' });
    const step = { dtype: 'int64', dims: [1], data: BigInt64Array.of(0n) } as const;
    expect((await next.run({ x: f64(Float64Array.of(2), [1]), step })).y!.data).toEqual(Float64Array.of(6));
    await next.release();
  });

  // Each in a process of its own, both at once.
  it.concurrent('lets an idle process exit with its sessions still open', async ({ expect }) => {
    writeFileSync(join(dir, 'scale.onnx'), scaleModel(2));
    const result = await runScript(`
      const session = await openSession(${JSON.stringify(join(dir, 'scale.onnx'))}, { provider: 'cpu' });
      const out = await session.run({
        x: { dtype: 'float64', dims: [1], data: Float64Array.of(4) },
        step: { dtype: 'int64', dims: [1], data: BigInt64Array.of(1n) },
      });
      console.log(out.y.data[0]);
    `);
    expect(result).toEqual({ code: 0, signal: null, output: '9' });
  }, 60_000);

  it.concurrent('exits with the code process.exit gives while a call runs', async ({ expect }) => {
    // Ending the thread inside onnxruntime's native call would abort the process (SIGABRT) instead.
    writeFileSync(join(dir, 'chain.onnx'), matMulChain(512, 12));
    const result = await runScript(`
      const session = await openSession(${JSON.stringify(join(dir, 'chain.onnx'))}, { provider: 'cpu' });
      void session.run({ x: { dtype: 'float64', dims: [512, 512], data: new Float64Array(512 * 512) } });
      setTimeout(() => process.exit(3), 10);
    `);
    expect(result).toEqual({ code: 3, signal: null, output: '' });
  }, 60_000);
});

/** Runs `body` in a fresh `node --import tsx` process with `openSession` imported; its exit and output. */
async function runScript(body: string) {
  const script = join(dir, `script-${Math.random().toString(36).slice(2)}.mts`);
  const sessionModule = pathToFileURL(join(import.meta.dirname, '../src/runtime/session.ts')).href;
  writeFileSync(script, `import { openSession } from ${JSON.stringify(sessionModule)};\n${body}`);
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: join(import.meta.dirname, '../../..'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  // Generous: a process that does not exit by itself is what this catches, not a slow one.
  const killer = setTimeout(() => child.kill('SIGKILL'), 40_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on('exit', (c, s) => resolve([c, s])),
  );
  clearTimeout(killer);
  return { code, signal, output: output.trim() };
}
