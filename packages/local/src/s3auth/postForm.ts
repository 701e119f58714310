import type { IncomingMessage } from 'node:http';
import { S3Refusal } from './errors.ts';

/** S3's limit on the form fields before the file (Policy, key, signature...). */
const MAX_PRE_DATA_BYTES = 20 * 1024;

/** A browser POST upload, read and size-checked: what was checked in it, and the body to forward. */
export interface PostForm {
  /** Form fields before the file, names lower-cased (S3 matches them case-insensitively), first value kept. */
  fields: Record<string, string>;
  /** The checked fields and file only, re-encoded (with `contentType`'s boundary). */
  body: Buffer;
  contentType: string;
  fileSize: number;
}

const malformed = () =>
  new S3Refusal(
    400,
    'MalformedPOSTRequest',
    'The body of your POST request is not well-formed multipart/form-data.',
  );

/** Parses multipart bytes with the platform's own parser (undici, through `Response.formData`). */
async function parseForm(bytes: Buffer, contentType: string): Promise<FormData> {
  try {
    return await new Response(bytes, { headers: { 'content-type': contentType } }).formData();
  } catch {
    throw malformed();
  }
}

/**
 * Where the part named `file` starts (the offset of its `--boundary` line), or -1 when `head` does not reach it
 * yet. Only part headers are looked at; parsing stays with `parseForm`.
 */
function filePartAt(head: Buffer, boundary: string): number {
  const delimiter = `--${boundary}`;
  let at = head.indexOf(delimiter);
  while (at >= 0) {
    const headersEnd = head.indexOf('\r\n\r\n', at);
    if (headersEnd < 0) return -1;
    const partHeaders = head.subarray(at, headersEnd).toString('latin1');
    if (/^content-disposition:[^\r\n]*;\s*name="?file"?(;|\s|$)/im.test(partHeaders)) return at;
    at = head.indexOf(`\r\n${delimiter}`, headersEnd);
    if (at >= 0) at += 2;
  }
  return -1;
}

/**
 * Reads a multipart/form-data POST: S3 requires the file to be the last field it reads, so the fields are parsed
 * first and handed to `admit` (policy and signature checks), which returns the largest file it allows; the file is
 * then read only up to that size. Nothing is buffered beyond the fields' 20 KB and that limit (held twice: as
 * received and re-encoded). On a refusal the
 * rest of the body is read and dropped, so the client gets the answer instead of a reset connection.
 */
export async function readPostForm(
  req: IncomingMessage,
  contentType: string,
  admit: (fields: Record<string, string>) => Promise<number>,
): Promise<PostForm> {
  const chunks = req[Symbol.asyncIterator]();
  try {
    return await readWith(chunks, contentType, admit);
  } catch (err) {
    void drain(chunks);
    throw err;
  }
}

async function readWith(
  chunks: AsyncIterator<Buffer>,
  contentType: string,
  admit: (fields: Record<string, string>) => Promise<number>,
): Promise<PostForm> {
  const boundary = contentType
    .match(/boundary=(?:"([^"]+)"|([^;\s]+))/i)
    ?.slice(1)
    .find(Boolean);
  if (!boundary) throw malformed();
  const read: Buffer[] = [];
  let size = 0;
  let fileAt = -1;
  let ended = false;
  while (fileAt < 0) {
    const next = await chunks.next();
    if (next.done) {
      ended = true;
      break;
    }
    read.push(next.value);
    size += next.value.length;
    fileAt = filePartAt(Buffer.concat(read), boundary);
    if (fileAt > MAX_PRE_DATA_BYTES || (fileAt < 0 && size > MAX_PRE_DATA_BYTES + 1024))
      throw new S3Refusal(
        400,
        'MaxPostPreDataLengthExceeded',
        'Your POST request fields preceding the upload file were too large.',
      );
  }
  const head = Buffer.concat(read);
  // The fields alone: the bytes before the file part, closed with the final delimiter.
  const prefix =
    fileAt < 0 ? head : Buffer.concat([head.subarray(0, fileAt), Buffer.from(`--${boundary}--\r\n`)]);
  const fields: Record<string, string> = {};
  if (fileAt !== 0) {
    for (const [name, value] of await parseForm(prefix, contentType)) {
      const lower = name.toLowerCase();
      if (typeof value === 'string' && !(lower in fields)) fields[lower] = value;
    }
  }
  const maxFileBytes = await admit(fields);
  if (fileAt < 0)
    throw new S3Refusal(400, 'InvalidArgument', 'POST requires exactly one file upload per request.');

  // The file part's headers, the closing delimiter and any (ignored) trailing fields fit in the slack.
  const cap = fileAt + maxFileBytes + MAX_PRE_DATA_BYTES;
  while (!ended) {
    const next = await chunks.next();
    if (next.done) break;
    read.push(next.value);
    size += next.value.length;
    if (size > cap) throw entityTooLarge();
  }
  const file = [...(await parseForm(Buffer.concat(read), contentType))].find(
    ([name]) => name.toLowerCase() === 'file',
  )?.[1];
  if (!(file instanceof Blob)) throw malformed();
  // s3rver reads the raw form its own way (the last of a repeated field, fields after a part named "File"), so it
  // gets only what was checked: each field's first value, then this file.
  const checked = new FormData();
  for (const [name, value] of Object.entries(fields)) checked.append(name, value);
  checked.append('file', file);
  const encoded = new Response(checked);
  return {
    fields,
    body: Buffer.from(await encoded.arrayBuffer()),
    contentType: encoded.headers.get('content-type') ?? '',
    fileSize: file.size,
  };
}

export const entityTooLarge = () =>
  new S3Refusal(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size');

/** Reads and drops what is left of a refused body. */
async function drain(chunks: AsyncIterator<unknown>): Promise<void> {
  try {
    while (!(await chunks.next()).done);
  } catch {
    // the client went away
  }
}
