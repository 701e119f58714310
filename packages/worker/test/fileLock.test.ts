import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { withFileLock } from '../src/bundles/fileLock.ts';

const dir = mkdtempSync(join(tmpdir(), 'obelm-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `contenders` lock holders at once; returns the most that ever held the lock together. */
async function maxHolders(path: string, contenders: number): Promise<number> {
  let holding = 0;
  let most = 0;
  await Promise.all(
    Array.from({ length: contenders }, () =>
      withFileLock(
        path,
        async () => {
          most = Math.max(most, ++holding);
          await new Promise((resolve) => setTimeout(resolve, 5));
          holding--;
        },
        { pollMs: 2 },
      ),
    ),
  );
  return most;
}

test('holders of one lock file run one at a time', async () => {
  expect(await maxHolders(join(dir, 'a.lock'), 6)).toBe(1);
});

test('a stale lock (its holder died) is taken over by exactly one waiter at a time', async () => {
  const path = join(dir, 'b.lock');
  writeFileSync(path, '{}');
  const longAgo = new Date(Date.now() - 3600_000);
  utimesSync(path, longAgo, longAgo);
  expect(await maxHolders(path, 6)).toBe(1);
});
