/**
 * The playground (packages/playground) as a static site on its own origin: S3 behind CloudFront (SST StaticSite).
 * An SST component, so this file runs (and type-checks) only inside the SST app.
 */
import { originOf } from '@obelm/core';

export interface PlaygroundArgs {
  /** The API's base URL, written into the site's config.json at build time. */
  apiUrl: $util.Input<string>;
}

export function createPlayground(args: PlaygroundArgs) {
  const site = new sst.aws.StaticSite('Playground', {
    // Built from the repository root, where the workspace's dependencies (esbuild) are installed.
    build: { command: 'npm run build -w @obelm/playground', output: 'packages/playground/dist' },
    // The build writes config.json with `apiUrl` from OBELM_API_URL, and no dev key: visitors paste their own.
    environment: { OBELM_API_URL: args.apiUrl },
    assets: {
      // The file names carry no content hash (app.js, config.json), so browsers revalidate every file rather
      // than keeping SST's default year-long immutable copy across deploys.
      fileOptions: [{ files: '**', cacheControl: 'public,max-age=0,must-revalidate' }],
    },
  });
  // The origin pages of the site send: the bucket's CORS rule allows it to upload.
  return { site, url: site.url, origin: site.url.apply(originOf) };
}
