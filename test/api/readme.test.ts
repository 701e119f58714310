import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type LocalStack, startLocalStack } from '@obelm/local';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** The README's promises: the Node versions it names, and its edit example, run as written. */

const root = join(import.meta.dirname, '../..');
const read = (file: string) => readFileSync(join(root, file), 'utf8');
const readme = read('README.md');

/** The majors the README names: "Node.js 20 or 22". */
const readmeMajors = (): number[] => {
  const line = /Node\.js ((?:\d+(?:, | or ))*\d+)/.exec(readme)?.[1] ?? '';
  return [...line.matchAll(/\d+/g)].map((m) => Number(m[0]));
};

/**
 * Whether a node-semver range admits the newest release of major `major` (tested as `major.999.0`). Knows
 * the forms engines fields use: `||`, `>=`, `>`, `<`, `<=`, `^`, `~`, `N`, `N.x`, `*`.
 */
function admitsMajor(range: string, major: number): boolean {
  const version = [major, 999, 0];
  const cmp = (a: number[], b: number[]) => a.map((x, i) => x - b[i]!).find((d) => d !== 0) ?? 0;
  const parse = (v: string) => v.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : Number.NaN));
  return range.split('||').some((clause) =>
    clause
      .trim()
      .replace(/(>=|<=|>|<|\^|~|=)\s+/g, '$1')
      .split(/\s+/)
      .every((comparator) => {
        const [, op = '', raw = ''] = /^(>=|<=|>|<|\^|~|=)?v?(.*)$/.exec(comparator) ?? [];
        if (raw === '' || raw === '*' || raw === 'x') return true;
        const parts = parse(raw);
        const bound = [0, 1, 2].map((i) => (Number.isNaN(parts[i] ?? Number.NaN) ? 0 : parts[i]!));
        const c = cmp(version, bound);
        if (op === '>=') return c >= 0;
        if (op === '>') return c > 0;
        if (op === '<') return c < 0;
        if (op === '<=') return c <= 0;
        if (op === '^' || op === '~') return c >= 0 && major === bound[0];
        return major === bound[0]; // N, N.x, =N...: the same major
      }),
  );
}

describe('Node versions', () => {
  const majors = readmeMajors();

  it('the README and package.json engines name the same versions', () => {
    expect(majors.length).toBeGreaterThan(0);
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
    for (const major of majors) expect(admitsMajor(engines, major), `engines admits ${major}`).toBe(true);
    for (const between of [19, 21])
      expect(admitsMajor(engines, between), `engines refuses ${between}`).toBe(false);
    expect(readme).toContain(`\`engines\`: \`${engines}\``);
  });

  it('every package the Lambda handlers load supports each of them (installed versions, from the lockfile)', () => {
    const lock = JSON.parse(read('package-lock.json')) as {
      packages: Record<
        string,
        {
          dependencies?: Record<string, string>;
          engines?: { node?: string };
          link?: boolean;
          resolved?: string;
          version?: string;
        }
      >;
    };
    // Resolve like Node: the nearest node_modules folder up from the requiring package.
    const resolve = (from: string, name: string): string | undefined => {
      for (let dir = from; ; ) {
        const path = `${dir ? `${dir}/` : ''}node_modules/${name}`;
        const entry = lock.packages[path];
        if (entry) return entry.link && entry.resolved ? entry.resolved : path;
        if (!dir) return undefined;
        const parent = dir.lastIndexOf('/node_modules/');
        dir = parent >= 0 ? dir.slice(0, parent) : '';
      }
    };
    const seen = new Set<string>();
    const queue = ['packages/api'];
    const refusing: string[] = [];
    while (queue.length) {
      const path = queue.shift()!;
      if (seen.has(path)) continue;
      seen.add(path);
      const entry = lock.packages[path]!;
      const range = entry.engines?.node;
      for (const major of majors) {
        if (range && !admitsMajor(range, major)) refusing.push(`${path}@${entry.version}: node ${range}`);
      }
      for (const name of Object.keys(entry.dependencies ?? {})) {
        const next = resolve(path, name);
        if (next) queue.push(next);
      }
    }
    expect(seen.size).toBeGreaterThan(20);
    expect(refusing).toEqual([]);
  });

  it('reads engines ranges as npm does', () => {
    expect(admitsMajor('>=22', 20)).toBe(false);
    expect(admitsMajor('>= 18', 20)).toBe(true);
    expect(admitsMajor('^20.17.0 || >=22.9.0', 22)).toBe(true);
    expect(admitsMajor('^18.17.0 || >=20.5.0', 20)).toBe(true);
    expect(admitsMajor('>=6 <7 || >=8', 20)).toBe(true);
    expect(admitsMajor('20 || >=22', 21)).toBe(false);
    expect(admitsMajor('6.* || 8.* || >= 10.*', 20)).toBe(true);
    expect(admitsMajor('*', 20)).toBe(true);
  });
});

describe("the README's edit example", () => {
  let stack: LocalStack;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'obelm-readme-'));
    stack = await startLocalStack({ dataDir: join(dir, 'data'), port: 0, worker: false });
  });
  afterAll(async () => {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('uploads an image far larger than a command line holds and creates the edit job', async () => {
    const block = /```sh\nAPI=[\s\S]*?```/.exec(readme)?.[0] ?? '';
    const example = block.slice(block.indexOf('# edit an image'), block.lastIndexOf('```'));
    expect(example).toContain('-F file=@my.png');
    expect(example).not.toMatch(/base64/);
    // 512x512 of random pixels: about 770 KB, where passing it on the command line fails.
    const pixels = Buffer.from(Array.from({ length: 512 * 512 * 3 }, () => Math.floor(Math.random() * 256)));
    writeFileSync(
      join(dir, 'my.png'),
      await sharp(pixels, { raw: { width: 512, height: 512, channels: 3 } })
        .png()
        .toBuffer(),
    );
    const script = `set -euo pipefail\nAPI=${stack.apiUrl}; KEY=${stack.devKey}\nauth=(-H "Authorization: Bearer $KEY" -H 'content-type: application/json')\n${example}`;
    // Asynchronously: the stack serves from this very process.
    const { stdout: out } = await promisify(execFile)('bash', ['-c', script], { cwd: dir, encoding: 'utf8' });
    const job = JSON.parse(out.trim().split('\n').at(-1)!);
    expect(job).toMatchObject({ kind: 'edit', status: 'queued', params: { sourcePrompt: 'red circle' } });
  });
});
