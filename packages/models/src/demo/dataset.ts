/**
 * The demo model's procedural, labelled images (docs/demo-model.md §1, palette v2): 6 shapes x 6 colours x
 * 2 backgrounds x 3 positions = 216 images of 32x32 RGB. Pixels are (1 - cov) bg + cov colour, mapped to
 * [-1, 1], laid out CHW; cov is the inside fraction of a 4x4 supersample. Coordinates are in units of the
 * image side, y pointing down.
 *
 * The palette is chosen so that single-attribute edits keep the other attributes: every colour lies on
 * the same side of both (dark, similar-luminance) backgrounds, and positions are far apart
 * (docs/demo-model.md §1).
 */

export const SHAPES = ['circle', 'square', 'triangle', 'ring', 'cross', 'star'] as const;
export const COLOURS = ['red', 'green', 'blue', 'yellow', 'purple', 'white'] as const;
export const BACKGROUNDS = ['navy', 'forest'] as const;
export const POSITIONS = ['left', 'center', 'right'] as const;

export type Shape = (typeof SHAPES)[number];
export type Colour = (typeof COLOURS)[number];
export type Background = (typeof BACKGROUNDS)[number];
export type Position = (typeof POSITIONS)[number];

type Rgb = readonly [number, number, number];
type Point = readonly [number, number];

const COLOUR_RGB: Record<Colour, Rgb> = {
  red: [0.95, 0.3, 0.25],
  green: [0.3, 0.85, 0.3],
  blue: [0.3, 0.5, 1.0],
  yellow: [1.0, 0.9, 0.25],
  purple: [0.7, 0.35, 0.95],
  white: [0.97, 0.97, 0.97],
};
const BACKGROUND_RGB: Record<Background, Rgb> = { navy: [0.05, 0.07, 0.22], forest: [0.04, 0.2, 0.08] };
const POSITION_X: Record<Position, number> = { left: 0.26, center: 0.5, right: 0.74 };

/** Shape radius and supersampling factor. */
const R = 0.22;
const SUPERSAMPLE = 4;

export interface DemoItem {
  readonly shape: Shape;
  readonly colour: Colour;
  readonly background: Background;
  readonly position: Position;
  /** The label as a word set, e.g. {red, circle, navy, left}. */
  readonly words: ReadonlySet<string>;
}

export interface DemoDataset {
  /** Image side in pixels. */
  readonly size: number;
  readonly items: readonly DemoItem[];
  /** K x D row-major, D = 3 * size * size, values in [-1, 1], CHW per row. */
  readonly images: Float64Array;
  /** The 17 label words in a fixed order. */
  readonly vocabulary: readonly string[];
}

export const DEMO_VOCABULARY: readonly string[] = [...SHAPES, ...COLOURS, ...BACKGROUNDS, ...POSITIONS];

/** All items in a fixed order: shape, then colour, then background, then position. */
export function demoItems(): DemoItem[] {
  const items: DemoItem[] = [];
  for (const shape of SHAPES)
    for (const colour of COLOURS)
      for (const background of BACKGROUNDS)
        for (const position of POSITIONS) {
          items.push({
            shape,
            colour,
            background,
            position,
            words: new Set([shape, colour, background, position]),
          });
        }
  return items;
}

const cache = new Map<number, DemoDataset>();

/** Renders the dataset (deterministic; memoised per size). */
export function demoDataset(size = 32): DemoDataset {
  let dataset = cache.get(size);
  if (!dataset) {
    const items = demoItems();
    const d = 3 * size * size;
    const images = new Float64Array(items.length * d);
    for (const [k, item] of items.entries()) images.set(renderItem(item, size), k * d);
    dataset = { size, items, images, vocabulary: DEMO_VOCABULARY };
    cache.set(size, dataset);
  }
  return dataset;
}

/** One item as CHW pixels in [-1, 1]. */
export function renderItem(item: Omit<DemoItem, 'words'>, size: number): Float64Array {
  const inside = SHAPE_TESTS[item.shape];
  const cx = POSITION_X[item.position];
  const bg = BACKGROUND_RGB[item.background];
  const fg = COLOUR_RGB[item.colour];
  const plane = size * size;
  const out = new Float64Array(3 * plane);
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let hits = 0;
      for (let j = 0; j < SUPERSAMPLE; j++) {
        for (let i = 0; i < SUPERSAMPLE; i++) {
          const x = (px + (i + 0.5) / SUPERSAMPLE) / size;
          const y = (py + (j + 0.5) / SUPERSAMPLE) / size;
          if (inside(x - cx, y - 0.5)) hits++;
        }
      }
      const cov = hits / (SUPERSAMPLE * SUPERSAMPLE);
      for (let c = 0; c < 3; c++)
        out[c * plane + py * size + px] = ((1 - cov) * bg[c]! + cov * fg[c]!) * 2 - 1;
    }
  }
  return out;
}

/** Inside tests relative to the shape centre (dx, dy), y down. */
const SHAPE_TESTS: Record<Shape, (dx: number, dy: number) => boolean> = {
  circle: (dx, dy) => Math.hypot(dx, dy) <= R,
  square: (dx, dy) => Math.abs(dx) <= 0.85 * R && Math.abs(dy) <= 0.85 * R,
  triangle: (dx, dy) => {
    // Pointing up: apex at dy = -T, base at dy = T/2, half-width growing linearly to 0.996 T at the base.
    const T = 1.15 * R;
    return dy >= -T && dy <= T / 2 && Math.abs(dx) <= ((dy + T) / (1.5 * T)) * 0.996 * T;
  },
  ring: (dx, dy) => {
    const d = Math.hypot(dx, dy);
    return d >= 0.45 * R && d <= R;
  },
  cross: (dx, dy) => {
    const [ax, ay] = [Math.abs(dx), Math.abs(dy)];
    return (ax <= 0.95 * R && ay <= 0.32 * R) || (ay <= 0.95 * R && ax <= 0.32 * R);
  },
  star: (dx, dy) => insidePolygon(STAR, dx, dy),
};

/** A 5-pointed star, a point up: 10 vertices alternating outer radius 1.1 r and inner radius 0.45 r. */
const STAR: readonly Point[] = Array.from({ length: 10 }, (_, k) => {
  const radius = (k % 2 === 0 ? 1.1 : 0.45) * R;
  const angle = -Math.PI / 2 + (k * Math.PI) / 5;
  return [radius * Math.cos(angle), radius * Math.sin(angle)] as const;
});

/** Even-odd ray casting. */
function insidePolygon(vertices: readonly Point[], x: number, y: number): boolean {
  let inside = false;
  for (let i = 0, j = vertices.length - 1; i < vertices.length; j = i++) {
    const [xi, yi] = vertices[i]!;
    const [xj, yj] = vertices[j]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}
