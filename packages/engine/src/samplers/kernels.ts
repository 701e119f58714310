/**
 * The fused element-wise updates every sampler step reduces to. One pass, one output allocation, no
 * per-element allocation: these loops are the engine's whole arithmetic cost per step.
 */

/** out = a*x + b*e */
export function combine2(a: number, x: Float64Array, b: number, e: Float64Array): Float64Array {
  const out = new Float64Array(x.length);
  for (let j = 0; j < out.length; j++) out[j] = a * x[j]! + b * e[j]!;
  return out;
}

/** out = a*x + b*y + c*e */
export function combine3(
  a: number,
  x: Float64Array,
  b: number,
  y: Float64Array,
  c: number,
  e: Float64Array,
): Float64Array {
  const out = new Float64Array(x.length);
  for (let j = 0; j < out.length; j++) out[j] = a * x[j]! + b * y[j]! + c * e[j]!;
  return out;
}

/** out = (x + b*e) / d: the undo of an update, divided last as docs/math.md §6 writes it. */
export function solve2(x: Float64Array, b: number, e: Float64Array, d: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let j = 0; j < out.length; j++) out[j] = (x[j]! + b * e[j]!) / d;
  return out;
}
