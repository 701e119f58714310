/**
 * Writes the demo bundle folder (obelm.json + unet.onnx), e.g. to upload it as `models/demo-v1/`:
 *   npx tsx packages/models/scripts/buildDemoBundle.ts [outDir]   (default: the model cache)
 */
import { ensureDemoBundle } from '../src/index.ts';

const dir = await ensureDemoBundle(process.argv[2]);
console.log(dir);
