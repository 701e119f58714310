import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case

/** A time-ordered id: 10 chars of milliseconds then 16 random chars, so ids sort by creation time. */
export function newId(prefix: string, now = Date.now()): string {
  let time = '';
  for (let t = now, i = 0; i < 10; i++, t = Math.floor(t / 32)) time = ALPHABET[t % 32] + time;
  let rand = '';
  for (const byte of randomBytes(16)) rand += ALPHABET[byte % 32];
  return `${prefix}_${time}${rand}`;
}
