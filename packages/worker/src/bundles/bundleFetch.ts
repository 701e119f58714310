import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, link, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { BUNDLE_CACHE_MARKER, createLogger, describeError, type Logger } from '@obelm/core';
import { listObjects } from '../aws/blobs.ts';
import { WorkerError } from '../errors.ts';
import type { BundleSource } from './bundleSource.ts';
import { type FileLockOptions, withFileLock } from './fileLock.ts';

export type S3BundleSource = Extract<BundleSource, { type: 's3' }>;

/** One object of a bundle prefix, as listed. */
interface BundleObject {
  /** Path inside the bundle folder (the key without the prefix). */
  readonly path: string;
  readonly etag: string;
  readonly size: number;
}

interface SourceMarker {
  readonly source: string;
  readonly objects: readonly BundleObject[];
}

export interface FetchBundleOptions {
  /** Objects downloaded at once. Default 8. */
  readonly concurrency?: number;
  readonly lock?: FileLockOptions;
  readonly log?: Logger;
}

/**
 * Makes `<cacheDir>/<id>/` a complete copy of the bundle's S3 prefix and returns that folder.
 *
 * A copy is complete when its marker lists exactly the objects (keys, ETags, sizes) the prefix lists now;
 * then nothing is downloaded. Otherwise the objects are streamed to disk (bundles are GBs) into a fresh
 * hidden folder that is renamed into place, so a crash never leaves a folder that looks complete. Objects
 * unchanged since the previous copy are hard-linked from it instead of downloaded again. A lock file keeps
 * two workers sharing the host cache from downloading the same bundle at the same time.
 */
export async function fetchBundle(
  s3: S3Client,
  source: S3BundleSource,
  cacheDir: string,
  options: FetchBundleOptions = {},
): Promise<string> {
  const log = options.log ?? createLogger('worker', { component: 'bundles' });
  const dir = join(cacheDir, source.id);
  const url = `s3://${source.bucket}/${source.prefix}`;

  let objects: BundleObject[];
  try {
    objects = await listBundle(s3, source);
  } catch (error) {
    // S3 unreachable: a copy fetched earlier still serves (it may be stale, which beats not running).
    const cached = await readMarker(dir);
    if (cached?.source !== url) throw error;
    log.warn('model bundle listing failed; using the cached copy', { url, ...describeError(error) });
    return dir;
  }
  if (objects.length === 0) {
    throw new WorkerError('model_not_found', `model '${source.id}' does not exist: ${url} is empty`);
  }
  const wanted: SourceMarker = { source: url, objects };
  if (sameCopy(await readMarker(dir), wanted)) return dir;

  await mkdir(cacheDir, { recursive: true });
  return withFileLock(
    join(cacheDir, `.${source.id}.lock`),
    async () => {
      const current = await readMarker(dir);
      // Another worker finished this download while we waited for the lock.
      if (sameCopy(current, wanted)) return dir;
      await removeLeftovers(cacheDir, source.id);
      const started = performance.now();
      const reused = new Set(
        (current?.source === url ? current.objects : [])
          .filter((old) => objects.some((o) => sameObject(o, old)))
          .map((o) => o.path),
      );
      log.info('downloading model bundle', {
        url,
        objects: objects.length,
        bytes: objects.reduce((sum, o) => sum + o.size, 0),
        reused: reused.size,
      });
      const staging = join(cacheDir, `.${source.id}.tmp-${randomUUID()}`);
      try {
        await forEachLimited(objects, options.concurrency ?? 8, async (object, signal) => {
          const target = join(staging, object.path);
          await mkdir(dirname(target), { recursive: true });
          if (reused.has(object.path)) await linkOrCopy(join(dir, object.path), target);
          else await download(s3, source, object, target, signal);
        });
        await writeFile(join(staging, BUNDLE_CACHE_MARKER), JSON.stringify(wanted));
        await replaceFolder(dir, staging, join(cacheDir, `.${source.id}.old-${randomUUID()}`));
      } catch (error) {
        await rm(staging, { recursive: true, force: true });
        throw error;
      }
      log.info('model bundle downloaded', { url, ms: Math.round(performance.now() - started) });
      return dir;
    },
    options.lock,
  );
}

/** Every object under the prefix (ListObjectsV2 pages of up to 1000), sorted by path. */
async function listBundle(s3: S3Client, source: S3BundleSource): Promise<BundleObject[]> {
  const objects: BundleObject[] = [];
  for (const entry of await listObjects(s3, source.bucket, source.prefix)) {
    const path = entry.Key?.slice(source.prefix.length) ?? '';
    // Zero-byte "folder" keys that console uploads create are not files.
    if (path === '' || path.endsWith('/')) continue;
    if (path.split('/').some((part) => part === '' || part === '.' || part === '..')) {
      throw new WorkerError('model_error', `model bundle object '${entry.Key}' has an unsafe path`);
    }
    objects.push({ path, etag: entry.ETag ?? '', size: entry.Size ?? 0 });
  }
  return objects.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Streams one object to `target` (never buffered whole) and checks it arrived complete. */
async function download(
  s3: S3Client,
  source: S3BundleSource,
  object: BundleObject,
  target: string,
  signal: AbortSignal,
): Promise<void> {
  const out = await s3.send(
    new GetObjectCommand({ Bucket: source.bucket, Key: source.prefix + object.path }),
    { abortSignal: signal },
  );
  if (!(out.Body instanceof Readable)) throw new Error(`no stream for ${object.path}`);
  await pipeline(out.Body, createWriteStream(target), { signal });
  const written = (await stat(target)).size;
  if (written !== object.size) {
    throw new Error(`${object.path}: downloaded ${written} bytes, listed ${object.size}`);
  }
}

/**
 * Runs `task` on every item, at most `limit` at a time. On the first failure the others are aborted and
 * awaited before it is rethrown, so nothing still writes into a folder the caller is about to remove.
 */
async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const abort = new AbortController();
  // The first failure in time, not the abort errors it caused in the other runners: callers classify it.
  let failure: { readonly error: unknown } | undefined;
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length && !abort.signal.aborted) {
      const item = items[next++] as T;
      await task(item, abort.signal).catch((error: unknown) => {
        failure ??= { error };
        abort.abort();
      });
    }
  });
  await Promise.all(runners);
  if (failure) throw failure.error;
}

/** Puts `staging` at `dir`, moving an older copy to `old` first (renames are atomic), then removes it. */
async function replaceFolder(dir: string, staging: string, old: string): Promise<void> {
  const hadOld = await rename(dir, old).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    },
  );
  await rename(staging, dir);
  if (hadOld) await rm(old, { recursive: true, force: true });
}

/** Folders left by a download that crashed (only called under the lock, when no other download runs). */
async function removeLeftovers(cacheDir: string, id: string): Promise<void> {
  for (const name of await readdir(cacheDir)) {
    if (name.startsWith(`.${id}.tmp-`) || name.startsWith(`.${id}.old-`)) {
      await rm(join(cacheDir, name), { recursive: true, force: true });
    }
  }
}

async function linkOrCopy(from: string, to: string): Promise<void> {
  await link(from, to).catch(() => copyFile(from, to));
}

async function readMarker(dir: string): Promise<SourceMarker | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, BUNDLE_CACHE_MARKER), 'utf8')) as SourceMarker;
  } catch {
    return undefined;
  }
}

const sameObject = (a: BundleObject, b: BundleObject) =>
  a.path === b.path && a.etag === b.etag && a.size === b.size;

function sameCopy(copy: SourceMarker | undefined, wanted: SourceMarker): boolean {
  return (
    copy?.source === wanted.source &&
    copy.objects.length === wanted.objects.length &&
    copy.objects.every((o, i) => sameObject(o, wanted.objects[i]!))
  );
}
