// Minimal typings of the untyped stand-ins, for the parts the local stack uses.

declare module 's3rver' {
  import type { Server } from 'node:http';
  import type { AddressInfo } from 'node:net';

  interface S3rverOptions {
    address?: string;
    port?: number;
    silent?: boolean;
    directory?: string;
    vhostBuckets?: boolean;
    configureBuckets?: { name: string; configs?: unknown[] }[];
  }
  export default class S3rver {
    constructor(options: S3rverOptions);
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
    /** An S3 event notification ({Records: [...]}) for each object stored (Put, Post, Copy) or deleted. */
    on(event: 'event', listener: (notification: unknown) => void): this;
    httpServer?: Server;
    /** Its filesystem store (lib/stores/filesystem.js), whose writes s3rverWrites.ts replaces. */
    store: S3rverStore;
  }

  /** An object as s3rver's router hands it to the store. */
  export interface S3rverObject {
    bucket: string;
    key: string;
    content: Buffer | NodeJS.ReadableStream;
    metadata: Record<string, string>;
  }

  export interface S3rverStore {
    getResourcePath(bucket: string, key: string, resource: string): string;
    putObject(object: S3rverObject): Promise<{ size: number; md5: string }>;
    putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5?: string): Promise<void>;
  }
}

declare module 's3rver/lib/models/object.js' {
  /** s3rver's object model: the headers it keeps as metadata besides x-amz-meta-*. */
  const S3Object: { readonly ALLOWED_METADATA: readonly string[] };
  export default S3Object;
}

declare module 'dynalite' {
  import type { Server } from 'node:http';

  interface DynaliteOptions {
    path?: string;
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
  }
  export default function dynalite(options?: DynaliteOptions): Server;
}
