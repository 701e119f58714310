import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { DeleteObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

/**
 * A bundle folder copied to an S3 prefix (`models/<id>/`), as the worker copies it back (bundleFetch.ts): every
 * file, streamed (real bundles are GBs), then the objects the folder no longer has removed, so the prefix holds
 * exactly the folder.
 */

/** One file of a bundle folder. */
export interface BundleFile {
  /** Its path inside the folder, with `/` (its key below the prefix). */
  readonly path: string;
  readonly size: number;
}

export interface UploadOptions {
  /** Files larger than this go up in parts of this size (S3 takes at most 5 GB in one PUT). Default 64 MiB. */
  readonly partSize?: number;
  /** Parts of one file sent at once. Default 4. */
  readonly concurrency?: number;
  /** Told each file as it starts. */
  readonly onFile?: (file: BundleFile) => void;
}

export interface UploadReport {
  readonly files: readonly BundleFile[];
  readonly bytes: number;
  /** Keys under the prefix removed because the folder has no such file. */
  readonly removed: readonly string[];
}

const DEFAULT_PART_SIZE = 64 * 1024 * 1024;
/** S3's smallest part (all but the last). */
const MIN_PART_SIZE = 5 * 1024 * 1024;

/**
 * The files of a bundle folder, by path. Hidden files and folders (`.git`, `.cache` of a Hugging Face download)
 * are not part of a bundle; symbolic links are followed (a Hugging Face cache snapshot is made of them).
 */
export async function bundleFiles(dir: string): Promise<BundleFile[]> {
  const files: BundleFile[] = [];
  const walk = async (folder: string): Promise<void> => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const path = join(folder, entry.name);
      const info = await stat(path); // follows a link to what it names
      if (info.isDirectory()) await walk(path);
      else if (info.isFile()) files.push({ path: relative(dir, path).split(sep).join('/'), size: info.size });
    }
  };
  await walk(dir);
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Uploads every file of `dir` under `prefix` of `bucket`, one file after the other, then deletes the keys under
 * `prefix` that are not files of `dir`.
 */
export async function uploadBundle(
  s3: S3Client,
  target: { bucket: string; prefix: string },
  dir: string,
  options: UploadOptions = {},
): Promise<UploadReport> {
  const partSize = Math.max(options.partSize ?? DEFAULT_PART_SIZE, MIN_PART_SIZE);
  const files = await bundleFiles(dir);
  for (const file of files) {
    options.onFile?.(file);
    const object = { Bucket: target.bucket, Key: `${target.prefix}${file.path}` };
    const path = join(dir, ...file.path.split('/'));
    await putFile(s3, object, path, { partSize, concurrency: options.concurrency ?? 4 });
  }
  const kept = new Set(files.map((file) => `${target.prefix}${file.path}`));
  const removed = (await listKeys(s3, target.bucket, target.prefix)).filter((key) => !kept.has(key));
  for (const key of removed) await s3.send(new DeleteObjectCommand({ Bucket: target.bucket, Key: key }));
  return { files, bytes: files.reduce((sum, file) => sum + file.size, 0), removed };
}

/**
 * One file, streamed: a single PUT up to `partSize`, else a multipart upload `concurrency` parts at a time
 * (lib-storage's Upload, which aborts a failed one so no parts are left billed).
 */
async function putFile(
  s3: S3Client,
  object: { Bucket: string; Key: string },
  path: string,
  { partSize, concurrency }: { partSize: number; concurrency: number },
): Promise<void> {
  await new Upload({
    client: s3,
    params: { ...object, Body: createReadStream(path) },
    partSize,
    queueSize: concurrency,
    leavePartsOnError: false,
  }).done();
}

async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
    token = page.NextContinuationToken;
  } while (token);
  return keys;
}
