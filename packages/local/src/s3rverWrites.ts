import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3rverObject, S3rverStore } from 's3rver';
import S3Object from 's3rver/lib/models/object.js';
import { hashingStream } from './hashingStream.ts';

/**
 * S3 shows a PUT's object whole, and only once the PUT is answered. s3rver's filesystem store (3.7) truncates the
 * object's file and its metadata file and writes them in place, and answers a PUT (or POST) before the bytes are
 * written: a GET at that moment reads a short file, and gets a short body, hangs, or fails with a 500. That happens
 * when an object is written again while read (a batch's summary.json, which a second finisher writes with the same
 * bytes, read by the batch's owner meanwhile), or read right after its PUT is answered. Here each file is written
 * whole under a name of its own, then renamed over the old one, and the PUT is answered after: a reader sees the
 * old object or the new one. (A temporary name does not end in s3rver's object suffix: a listing never shows it.)
 */
export function atomicWrites(store: S3rverStore): void {
  store.putMetadata = async (bucket, key, metadata, md5) => {
    // What s3rver keeps of the headers, as its own putMetadata does.
    const allowed = Object.entries(metadata).filter(
      ([name]) => S3Object.ALLOWED_METADATA.includes(name) || name.startsWith('x-amz-meta-'),
    );
    if (md5) await replace(store.getResourcePath(bucket, key, 'object.md5'), md5);
    await replace(
      store.getResourcePath(bucket, key, 'metadata.json'),
      JSON.stringify(Object.fromEntries(allowed), null, 2),
    );
  };
  store.putObject = async (object: S3rverObject) => {
    const path = store.getResourcePath(object.bucket, object.key, 'object');
    await mkdir(dirname(path), { recursive: true });
    const md5 = hashingStream('md5');
    const content = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content;
    await replace(path, (temp) => pipeline(content, md5.stream, createWriteStream(temp)));
    const digest = md5.digest();
    await store.putMetadata(object.bucket, object.key, object.metadata, digest);
    return { size: md5.size(), md5: digest };
  };
}

let written = 0;

/** Writes `path` whole under a temporary name, then renames it over `path`. */
async function replace(path: string, content: string | ((temp: string) => Promise<void>)): Promise<void> {
  const temp = `${path}.${process.pid}-${written++}.partial`;
  try {
    if (typeof content === 'string') await writeFile(temp, content);
    else await content(temp);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
