import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';

/** What the page reads from `config.json` next to it (src/config.ts reads the same shape). */
export interface PlaygroundConfig {
  /** The API's root URL; '' when the page is served by the API itself (same origin). */
  apiUrl: string;
  /** A key to prefill (the local stack's dev key); never in a deployed site. */
  devKey?: string;
}

/** One file of the built site. */
export interface PlaygroundFile {
  /** Relative to the site's root, e.g. `app.js`. */
  path: string;
  contentType: string;
  body: Uint8Array;
}

const packageDir = join(import.meta.dirname, '..');

/**
 * The playground's static files but config.json: index.html, styles.css and app.js (src/main.ts and the
 * client SDK bundled for browsers by esbuild, in memory, without the network).
 */
export async function buildPlaygroundAssets(): Promise<PlaygroundFile[]> {
  const bundled = await build({
    entryPoints: [join(packageDir, 'src/main.ts')],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: false,
    write: false,
    logLevel: 'silent',
    // The client reads a path upload with node:fs, imported only then; the page always uploads a Blob.
    external: ['node:*'],
  });
  const [app] = bundled.outputFiles;
  if (!app) throw new Error('esbuild produced no output for the playground');
  const asset = async (path: string, contentType: string): Promise<PlaygroundFile> => ({
    path,
    contentType,
    body: new Uint8Array(await readFile(join(packageDir, path))),
  });
  return [
    await asset('index.html', 'text/html; charset=utf-8'),
    await asset('styles.css', 'text/css; charset=utf-8'),
    { path: 'app.js', contentType: 'text/javascript; charset=utf-8', body: app.contents },
  ];
}

/** The page's config.json. */
export const configFile = (config: PlaygroundConfig): PlaygroundFile => ({
  path: 'config.json',
  contentType: 'application/json',
  body: new TextEncoder().encode(`${JSON.stringify(config)}\n`),
});
