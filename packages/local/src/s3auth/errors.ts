import type { ServerResponse } from 'node:http';

/** A refusal in S3's terms: the HTTP status, the error code and message S3 itself answers with. */
export class S3Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const accessDenied = (message = 'Access Denied') => new S3Refusal(403, 'AccessDenied', message);
export const signatureMismatch = () =>
  new S3Refusal(
    403,
    'SignatureDoesNotMatch',
    'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
  );

const escapeXml = (text: string) =>
  text.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!,
  );

/** Answers with S3's XML error document (no body for HEAD, as S3 does), plus `headers` (CORS). */
export function sendS3Error(
  res: ServerResponse,
  method: string | undefined,
  refusal: S3Refusal,
  headers: Record<string, string> = {},
): void {
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${refusal.code}</Code><Message>${escapeXml(refusal.message)}</Message></Error>`;
  res.writeHead(refusal.status, {
    ...headers,
    'content-type': 'application/xml',
    'content-length': method === 'HEAD' ? 0 : Buffer.byteLength(body),
    'x-amz-error-code': refusal.code,
  });
  res.end(method === 'HEAD' ? undefined : body);
}
