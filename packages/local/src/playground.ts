import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PlaygroundConfig, PlaygroundFile } from '@obelm/playground/bundle';

/** Serves a GET/HEAD request outside the API's paths; false when it has nothing at that path. */
export type SiteHandler = (req: IncomingMessage, res: ServerResponse, pathname: string) => Promise<boolean>;

/**
 * The web playground at `/` of the local API (same origin: the page calls the API without CORS), with a
 * config.json naming the dev key. Built in memory on the first request (esbuild, loaded only then), so a
 * stack that never serves the page pays nothing.
 */
export function playgroundSite(config: PlaygroundConfig): SiteHandler {
  let files: Promise<Map<string, PlaygroundFile>> | undefined;
  const build = async () => {
    const { buildPlaygroundAssets, configFile } = await import('@obelm/playground/bundle');
    const all = [...(await buildPlaygroundAssets()), configFile(config)];
    return new Map(all.map((file) => [`/${file.path}`, file]));
  };
  const load = () => {
    files ??= build().catch((err: unknown) => {
      files = undefined; // the next request tries again
      throw err;
    });
    return files;
  };
  return async (req, res, pathname) => {
    const file = (await load()).get(pathname === '/' ? '/index.html' : pathname);
    if (!file) return false;
    res.writeHead(200, {
      'content-type': file.contentType,
      'content-length': file.body.byteLength,
      // Rebuilt at each start: always revalidate, so a restarted stack's page is never stale.
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    });
    res.end(req.method === 'HEAD' ? undefined : file.body);
    return true;
  };
}
