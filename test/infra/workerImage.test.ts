import { beforeAll, describe, expect, it } from 'vitest';
import { one, type Recorded, recordResources, settle } from './pulumiMocks.ts';

let recorded: Recorded[];
let workerImage: typeof import('../../infra/workerImage.ts');

const digest = `sha256:${'0f'.repeat(32)}`;
const repository = '123456789012.dkr.ecr.us-east-1.amazonaws.com/obelm-alice-worker';

beforeAll(async () => {
  recorded = await recordResources();
  workerImage = await import('../../infra/workerImage.ts');
  workerImage.createWorkerRepository('obelm-alice-worker');
  await settle();
});

describe('worker image repository', () => {
  it('never moves a tag, and is deleted with its images by sst remove', () => {
    expect(one(recorded, 'aws:ecr/repository:Repository').inputs).toMatchObject({
      name: 'obelm-alice-worker',
      imageTagMutability: 'IMMUTABLE',
      forceDelete: true,
    });
  });
});

describe('the image a deploy runs', () => {
  it('is the digest the push script recorded for the stage', () => {
    expect(workerImage.workerImageParameter('alice')).toBe('/obelm/alice/worker-image');
    const pushed = `${repository}@${digest}`;
    expect(workerImage.resolveWorkerImage({ stage: 'alice', pushed })).toBe(pushed);
  });

  it('is OBELM_WORKER_IMAGE when set', () => {
    const override = `${repository}@sha256:${'1a'.repeat(32)}`;
    expect(
      workerImage.resolveWorkerImage({ stage: 'alice', override, pushed: `${repository}@${digest}` }),
    ).toBe(override);
  });

  it('fails the deploy with what to do when none was pushed', () => {
    expect(() => workerImage.resolveWorkerImage({ stage: 'alice' })).toThrow(
      expect.objectContaining({
        code: 'no_worker_image',
        message: expect.stringContaining("Run 'scripts/pushWorkerImage.sh alice'"),
      }),
    );
    expect(() => workerImage.resolveWorkerImage({ stage: 'alice', override: '' })).toThrow(
      expect.objectContaining({ message: expect.stringContaining('/obelm/alice/worker-image') }),
    );
  });

  it('refuses a tag: only a digest pins what runs', () => {
    expect(() =>
      workerImage.resolveWorkerImage({ stage: 'alice', override: `${repository}:latest` }),
    ).toThrow(expect.objectContaining({ code: 'worker_image_not_pinned' }));
  });
});
