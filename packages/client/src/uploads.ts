import { ObelmTransferError } from './errors.ts';
import type { FetchLike } from './retry.ts';
import type { UploadContentType, UploadForm } from './types.ts';

/** What uploadFile takes: a file path (Node only), bytes, or a Blob/File. */
export type UploadInput = string | Uint8Array | Blob;

export interface UploadOptions {
  /** The image's type; by default the Blob's type, else sniffed from the bytes (PNG, JPEG, WebP). */
  contentType?: UploadContentType;
  signal?: AbortSignal;
}

const startsWith = (bytes: Uint8Array, prefix: readonly number[], at = 0) =>
  prefix.every((byte, i) => bytes[at + i] === byte);

/** The image type from its first bytes; undefined when none of the accepted ones. */
export function sniffImageType(bytes: Uint8Array): UploadContentType | undefined {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47])) return 'image/png';
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (startsWith(bytes, [0x52, 0x49, 0x46, 0x46]) && startsWith(bytes, [0x57, 0x45, 0x42, 0x50], 8))
    return 'image/webp';
  return undefined;
}

/** The input as a Blob; a path is read with node:fs, imported only then so browsers never load it. */
export async function toBlob(input: UploadInput): Promise<Blob> {
  if (input instanceof Blob) return input;
  if (typeof input === 'string') {
    const { readFile } = await import('node:fs/promises');
    return new Blob([await readFile(input)]);
  }
  // A copy backed by an ArrayBuffer: DOM's Blob types refuse a view that may sit on a SharedArrayBuffer.
  return new Blob([input.slice()]);
}

export async function contentTypeOf(blob: Blob, given?: UploadContentType): Promise<UploadContentType> {
  if (given) return given;
  if (/^image\/(png|jpeg|webp)$/.test(blob.type)) return blob.type as UploadContentType;
  return sniffImageType(new Uint8Array(await blob.slice(0, 12).arrayBuffer())) ?? 'image/png';
}

/**
 * Sends `blob` through a presigned POST form: every field, then the file last (storage ignores fields after
 * it). Storage checks the size and type itself; a refusal is an ObelmTransferError with its answer.
 */
export async function postUploadForm(
  fetchImpl: FetchLike,
  form: UploadForm,
  blob: Blob,
  contentType: string,
  signal?: AbortSignal,
): Promise<void> {
  if (blob.size > form.maxBytes)
    throw new ObelmTransferError(
      'upload_rejected',
      413,
      `File of ${blob.size} bytes is over ${form.maxBytes}`,
    );
  const body = new FormData();
  for (const [name, value] of Object.entries(form.fields)) body.append(name, value);
  body.append('file', new Blob([blob], { type: contentType }), 'upload');
  const response = await fetchImpl(new Request(form.url, { method: 'POST', body, signal: signal ?? null }));
  if (!response.ok) {
    const text = await response.text().catch(() => '');
    throw new ObelmTransferError(
      'upload_rejected',
      response.status,
      `Upload refused (${response.status}): ${text.slice(0, 500)}`,
    );
  }
  await response.body?.cancel();
}

/** The bytes at an output link (presigned: no API key is sent). */
export async function downloadBytes(
  fetchImpl: FetchLike,
  url: string,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  const response = await fetchImpl(new Request(url, { signal: signal ?? null }));
  if (!response.ok) {
    const text = await response.text().catch(() => '');
    throw new ObelmTransferError(
      'download_failed',
      response.status,
      `Download failed (${response.status}): ${text.slice(0, 500)}`,
    );
  }
  return new Uint8Array(await response.arrayBuffer());
}
