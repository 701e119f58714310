/** Writes a bundle folder atomically: files go to a temporary sibling that is renamed into place. */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type BundleManifest, MANIFEST_FILE } from './manifest.ts';

/**
 * Writes `files` (name -> bytes) and the manifest, with sha256 checksums of every file, into `dir`.
 * If another process finished the same folder first, its copy is kept (bundles are deterministic).
 */
export async function writeBundle(
  dir: string,
  manifest: Omit<BundleManifest, 'sha256'>,
  files: Readonly<Record<string, Uint8Array>>,
): Promise<void> {
  await mkdir(dirname(dir), { recursive: true });
  const staging = `${dir}.tmp-${randomUUID()}`;
  await mkdir(staging);
  try {
    const sha256: Record<string, string> = {};
    for (const [name, bytes] of Object.entries(files)) {
      await writeFile(join(staging, name), bytes);
      sha256[name] = createHash('sha256').update(bytes).digest('hex');
    }
    await writeFile(join(staging, MANIFEST_FILE), `${JSON.stringify({ ...manifest, sha256 }, null, 2)}\n`);
    await rename(staging, dir);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    // ENOTEMPTY/EEXIST: a concurrent writer won the rename; its bundle is identical.
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
  }
}
