/**
 * GPT-2/CLIP byte-level alphabet: every byte maps to one printable unicode character, so BPE never sees
 * whitespace or control bytes. Printable Latin-1 bytes map to themselves; the other 68 bytes map to
 * U+0100 onwards, in byte order. The order of this list is the order of CLIP's first 256 vocabulary entries.
 */
export function byteAlphabet(): string[] {
  const printable = (b: number) =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const chars: string[] = [];
  for (let b = 0; b < 256; b++) if (printable(b)) chars.push(String.fromCodePoint(b));
  let extra = 0;
  for (let b = 0; b < 256; b++) if (!printable(b)) chars.push(String.fromCodePoint(256 + extra++));
  return chars;
}
