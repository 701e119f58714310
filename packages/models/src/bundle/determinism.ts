/**
 * The load-time refusal of random models. Every promise obelm makes (an inversion that samples back to the same
 * image, an edit that keeps what it does not change, a reconstruction within 1e-8) needs a model whose outputs
 * are a function of its inputs. A graph that draws random numbers breaks that silently, so it never loads.
 */
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { onnxOpTypes } from '../onnx/inspect.ts';
import { ModelError } from '../runtime/errors.ts';

/** The ONNX ops that draw random numbers. */
export const RANDOM_OPS: readonly string[] = [
  'RandomNormal',
  'RandomNormalLike',
  'RandomUniform',
  'RandomUniformLike',
  'Multinomial',
  'Bernoulli',
];

/** How to get an export whose VAE encoder gives the posterior parameters instead of a sample. */
export const REEXPORT_ADVICE =
  're-export the model with `optimum-cli export onnx --model <model id> --task text-to-image <out dir>` ' +
  "(today's optimum): its vae_encoder returns the posterior parameters `latent_parameters` (mean and " +
  'log-variance), whose mean obelm uses, and no graph of the export draws random numbers';

/**
 * Refuses the bundle at `dir` when any `*.onnx` file in it (SD exports: `<part>/model.onnx`; pixel bundles: files
 * at the top) has a random op anywhere in its graphs: a ModelError 'bundle_invalid_manifest' naming the file, the
 * ops, why that breaks obelm and how to re-export.
 */
export async function refuseRandomOps(dir: string): Promise<void> {
  for (const path of await onnxFiles(dir)) {
    const ops = await onnxOpTypes(path);
    const random = RANDOM_OPS.filter((op) => ops.has(op));
    if (random.length === 0) continue;
    const file = relative(dir, path);
    throw new ModelError(
      'bundle_invalid_manifest',
      `${dir}: ${file} has random ops (${random.join(', ')}): ${consequence(file, random)}. ` +
        `To fix it, ${REEXPORT_ADVICE}.`,
    );
  }
}

/** Why a random op in `file` matters, in the words of the part it is in. */
function consequence(file: string, ops: readonly string[]): string {
  if (file.split(/[\\/]/)[0] === 'vae_encoder') {
    return (
      `the VAE encoder samples the posterior with ${ops.join(', ')} instead of returning it: two encodings of ` +
      'one image differ, so inversions, edits and reconstructions of images are not reproducible'
    );
  }
  return (
    'the same inputs give different outputs on every call, so inversions, edits and reconstructions are ' +
    'not reproducible'
  );
}

/** The `*.onnx` files under `dir`, in a stable order; dot folders (caches, staging copies) are left out. */
async function onnxFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await onnxFiles(path)));
    else if (entry.isFile() && entry.name.endsWith('.onnx')) found.push(path);
  }
  return found;
}
