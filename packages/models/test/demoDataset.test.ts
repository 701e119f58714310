import { describe, expect, it } from 'vitest';
import {
  BACKGROUNDS,
  COLOURS,
  type DemoItem,
  demoDataset,
  POSITIONS,
  renderItem,
  SHAPES,
} from '../src/demo/dataset.ts';

const ATTRIBUTES = {
  shape: SHAPES,
  colour: COLOURS,
  background: BACKGROUNDS,
  position: POSITIONS,
} as const;

describe('demo dataset', () => {
  const { items, images, size, vocabulary } = demoDataset();
  const D = 3 * size * size;
  const distance2 = (a: number, b: number) => {
    let sum = 0;
    for (let i = 0; i < D; i++) sum += (images[a * D + i]! - images[b * D + i]!) ** 2;
    return sum;
  };

  it('has 216 distinct labelled 32x32 RGB images in [-1, 1] and a 17-word vocabulary', () => {
    expect(items).toHaveLength(216);
    expect(images).toHaveLength(216 * 3 * 32 * 32);
    expect(vocabulary).toHaveLength(17);
    expect(new Set(items.map((it) => [...it.words].sort().join(' '))).size).toBe(216);
    expect(images.every((v) => v >= -1 && v <= 1)).toBe(true);
    for (let k = 1; k < 216; k++) expect(distance2(0, k)).toBeGreaterThan(0);
  });

  it('is deterministic', () => {
    // A fresh render equals the memoised row, and the whole set sums to a pinned value.
    const k = 123;
    expect(renderItem(items[k]!, size)).toEqual(images.subarray(k * D, (k + 1) * D));
    expect(images.reduce((a, b) => a + b, 0)).toMatchInlineSnapshot(`-435666.99999933946`);
  });

  // docs/demo-model.md §1: an edit keeps the other attributes iff the attribute-preserving member of the
  // target class is the L2-nearest one. Edit prompts name colour and shape (and the background for background
  // edits), so the target class is every item matching those words after one attribute changes.
  it('makes the attribute-preserving image the nearest member of every single-attribute edit target', () => {
    let edits = 0;
    let minMargin = Number.POSITIVE_INFINITY;
    for (const [k, item] of items.entries()) {
      for (const attribute of ['shape', 'colour', 'background'] as const) {
        for (const value of ATTRIBUTES[attribute]) {
          if (value === item[attribute]) continue;
          const edited = { ...item, [attribute]: value };
          const inClass = (o: DemoItem) =>
            o.shape === edited.shape &&
            o.colour === edited.colour &&
            (attribute !== 'background' || o.background === edited.background);
          const keep = items.findIndex((o) => sameExcept(o, edited));
          const others = items.flatMap((o, j) => (inClass(o) && j !== keep ? [j] : []));
          const best = Math.min(...others.map((j) => distance2(k, j)));
          minMargin = Math.min(minMargin, Math.sqrt(best / D) - Math.sqrt(distance2(k, keep) / D));
          edits++;
        }
      }
    }
    expect(edits).toBe(216 * (5 + 5 + 1));
    expect(minMargin).toBeGreaterThan(0.02); // RMS units on the [-1, 1] scale; measured 0.028
  });
});

function sameExcept(a: DemoItem, b: Omit<DemoItem, 'words'>): boolean {
  return (
    a.shape === b.shape && a.colour === b.colour && a.background === b.background && a.position === b.position
  );
}
