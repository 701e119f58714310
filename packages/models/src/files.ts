import { access, readFile } from 'node:fs/promises';

/** True when `path` can be accessed (the optional parts of a bundle, a cached bundle's manifest). */
export async function fileExists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * Reads a JSON file of a bundle: undefined when it is absent (optional files), and the caller's typed error
 * when it exists but is not valid JSON.
 */
export async function readJsonIfPresent(
  path: string,
  invalid: (message: string, cause: unknown) => Error,
): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw invalid(`${path} is not valid JSON`, error);
  }
}
