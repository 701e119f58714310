/**
 * The client SDK reads a path upload with node:fs, imported lazily and never in a browser (the page uploads
 * Blobs; the bundle leaves node: imports out). What it uses of it, so the DOM-only type check can follow it.
 */
declare module 'node:fs/promises' {
  export function readFile(path: string): Promise<Uint8Array<ArrayBuffer>>;
}
