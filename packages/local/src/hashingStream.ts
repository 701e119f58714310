import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';

/** A pass-through stream that hashes and counts the bytes flowing through it, for a pipeline that writes them. */
export function hashingStream(algorithm: 'md5' | 'sha256'): {
  stream: Transform;
  /** The hex digest: call once, after the pipeline has ended. */
  digest(): string;
  size(): number;
} {
  const hash = createHash(algorithm);
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  return { stream, digest: () => hash.digest('hex'), size: () => size };
}
