import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  type S3Client,
  type _Object as S3Object,
} from '@aws-sdk/client-s3';
import { WorkerError } from '../errors.ts';

/** The job bucket: whole-object reads and writes (inputs and outputs are small: images, noise, reports). */
export class BlobStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  /** Reads an object; a missing one is the caller's bad input (`input_not_found`), not a crash. */
  async get(key: string, signal?: AbortSignal): Promise<Uint8Array> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), {
        abortSignal: signal,
      });
      if (!out.Body) throw new WorkerError('input_not_found', `input object '${key}' is empty`);
      return await out.Body.transformToByteArray();
    } catch (error) {
      if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') {
        throw new WorkerError('input_not_found', `input object '${key}' does not exist`);
      }
      throw error;
    }
  }

  async put(key: string, body: Uint8Array | string, contentType: string): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType }),
    );
  }

  /** Keys under `prefix`, every page. */
  async list(prefix: string): Promise<string[]> {
    const objects = await listObjects(this.s3, this.bucket, prefix);
    return objects.flatMap((object) => (object.Key ? [object.Key] : []));
  }

  /** Deletes an object; deleting one that is already gone succeeds. */
  async delete(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }
}

/** Every object under `prefix` of `bucket`, through all ListObjectsV2 pages (up to 1000 each). */
export async function listObjects(s3: S3Client, bucket: string, prefix: string): Promise<S3Object[]> {
  const objects: S3Object[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    objects.push(...(page.Contents ?? []));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return objects;
}
