import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The package boundaries of docs/architecture.md, checked on the sources: what each package may import, and the
 * facts that have one home (a rule that drifts back into a second place fails here).
 */
const root = join(import.meta.dirname, '..');

function files(dir: string, ext = /\.ts$/): string[] {
  return readdirSync(join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && ext.test(e.name) && !e.parentPath.includes('node_modules'))
    .map((e) => relative(root, join(e.parentPath, e.name)));
}
const source = (file: string) => readFileSync(join(root, file), 'utf8');
const importsOf = (file: string) => [...source(file).matchAll(/from '([^']+)'/g)].map((m) => m[1]!);

/** @obelm packages each package may depend on (docs/architecture.md). */
const ALLOWED: Record<string, string[]> = {
  core: [],
  engine: ['core'],
  models: ['core', 'engine'],
  store: ['core'],
  api: ['core', 'store'],
  worker: ['core', 'engine', 'models', 'store'],
  // playground: the web page it serves at `/`, built at the first request.
  local: ['core', 'engine', 'models', 'store', 'api', 'worker', 'playground'],
  // models: `admin models add` loads a bundle and runs its round trip (models validateBundle) before installing it.
  cli: ['client', 'core', 'models', 'store'],
  // The public API only (typed from its OpenAPI document): usable outside this repository.
  client: [],
  // The web page: the public API through the client only.
  playground: ['client'],
};

describe('package boundaries', () => {
  for (const [pkg, allowed] of Object.entries(ALLOWED)) {
    it(`${pkg} depends only on ${allowed.join(', ') || 'no other package'}`, () => {
      const manifest = JSON.parse(source(`packages/${pkg}/package.json`)) as Record<
        string,
        Record<string, string>
      >;
      const deps = Object.keys({ ...manifest['dependencies'], ...manifest['devDependencies'] })
        .filter((d) => d.startsWith('@obelm/'))
        .map((d) => d.slice('@obelm/'.length));
      expect(deps.filter((d) => !allowed.includes(d))).toEqual([]);
      for (const file of files(`packages/${pkg}/src`)) {
        const used = importsOf(file)
          .filter((i) => i.startsWith('@obelm/'))
          .map((i) => i.slice('@obelm/'.length).split('/')[0]!);
        expect(
          used.filter((d) => !allowed.includes(d)),
          file,
        ).toEqual([]);
      }
    });
  }

  it('keeps the engine free of I/O: of core it takes only the error base', () => {
    for (const file of files('packages/engine/src')) {
      const fromCore = importsOf(file).filter((i) => i.startsWith('@obelm/core'));
      expect(
        fromCore.filter((i) => i !== '@obelm/core/errors'),
        file,
      ).toEqual([]);
    }
  });

  it('keeps the AWS SDK out of core, engine, models and client, and onnxruntime inside models', () => {
    for (const pkg of ['core', 'engine', 'models', 'client']) {
      for (const file of files(`packages/${pkg}/src`)) {
        expect(
          importsOf(file).filter((i) => i.startsWith('@aws-sdk/')),
          file,
        ).toEqual([]);
      }
    }
    for (const pkg of ['core', 'engine', 'store', 'api', 'worker', 'local', 'cli', 'client']) {
      for (const file of files(`packages/${pkg}/src`)) {
        expect(
          importsOf(file).filter((i) => i === 'onnxruntime-node'),
          file,
        ).toEqual([]);
      }
    }
  });
});

describe('one home for each fact', () => {
  it('writes items only through the store, and job items only through core transitions', () => {
    const outside = ['api', 'worker', 'local', 'cli'].flatMap((pkg) => files(`packages/${pkg}/src`));
    expect(outside.filter((f) => /UpdateExpression|new UpdateCommand/.test(source(f)))).toEqual([]);
    // In the store, the one executor of job transitions; other files write other items.
    const jobWriters = files('packages/store/src').filter(
      (f) => /new UpdateCommand/.test(source(f)) && /dbKeys\.job\(/.test(source(f)),
    );
    expect(jobWriters).toEqual(['packages/store/src/jobTable.ts']);
    expect(source('packages/store/src/jobTable.ts')).not.toMatch(/UpdateExpression:\s*['`]/);
  });

  it('names files in one case (camelCase)', () => {
    const tracked = ['packages', 'test', 'infra', 'stacks', 'scripts'].flatMap((d) =>
      files(d, /\.(ts|tsx|js|mjs)$/),
    );
    const bad = tracked.filter((f) => !/^[a-z][A-Za-z0-9]*(\.[a-z0-9]+)*$/.test(f.split('/').at(-1)!));
    expect(bad).toEqual([]);
  });
});
