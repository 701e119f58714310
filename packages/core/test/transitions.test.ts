import { describe, expect, it } from 'vitest';
import {
  billFor,
  canTransition,
  endEventId,
  JOB_STATUSES,
  type JobItem,
  type JobStatus,
  type JobUpdate,
  jobTransitions as t,
} from '../src/index.ts';

const now = new Date('2026-01-02T03:04:05.000Z');
const running = { status: 'running', workerId: 'w1' } as const;
const queued = { status: 'queued' } as const;
const price = { currency: 'USD', perGpuSecondMicros: 500, perJobMicros: 1000 };
const billing = billFor(price, 'succeeded', 1234, now);
const zero = billFor(price, 'failed', 0, now);
const created = { id: 'j', tenant: 't', createdAt: '2026-01-01T00:00:00.000Z' };

/** One update of every builder, with each way it can be called. */
const updates: Record<string, JobUpdate> = {
  claim: t.claim(created, 'w1', now),
  claimRunnable: t.claimRunnable(created, 'w1', now, { maxAttempts: 3 }),
  progress: t.progress('j', 'w1', now, { step: 3, of: 10 }),
  heartbeat: t.progress('j', 'w1', now),
  checkpoint: t.checkpoint('j', 'w1', now, undefined),
  saveCheckpoint: t.saveCheckpoint('j', 'w1', now, {
    key: 'k',
    completedKeys: [],
    stage: 0,
    step: 1,
    savedAt: '',
  }),
  requeueByOwner: t.requeue('j', now, { workerId: 'w1' }),
  requeueStale: t.requeue('j', now, { seenHeartbeatAt: '2026-01-01T00:00:00.000Z' }),
  requeueNeverBeat: t.requeue('j', now, { seenHeartbeatAt: null }),
  requestCancel: t.requestCancel('j', now),
  resent: t.resent('j', now),
  dispatch: t.dispatch(created, now),
  succeed: t.succeed('j', 'w1', now, { outputs: {}, metrics: {}, ttl: 1, billing }),
  failQueued: t.fail('j', queued, now, { ttl: 1, error: { code: 'x', message: 'y' }, billing: zero }),
  failRunning: t.fail('j', running, now, { ttl: 1, error: { code: 'x', message: 'y' }, billing: zero }),
  cancelQueued: t.cancel('j', queued, now, { ttl: 1, billing }),
  cancelRunning: t.cancel('j', running, now, { ttl: 1, billing }),
  expire: t.expire('j', now, { ttl: 1, billing: zero }),
  outboxDone: t.outboxDone('j', 'succeeded'),
  deleteData: t.deleteData('j', 'canceled', now),
};

const ENDS: [string, JobStatus][] = [
  ['succeed', 'succeeded'],
  ['failQueued', 'failed'],
  ['failRunning', 'failed'],
  ['cancelQueued', 'canceled'],
  ['cancelRunning', 'canceled'],
  ['expire', 'expired'],
];

describe('job transitions', () => {
  it('follow the state machine, and together cover every edge of it', () => {
    const covered = new Set<string>();
    for (const [name, u] of Object.entries(updates)) {
      expect(u.from === u.to || canTransition(u.from, u.to), name).toBe(true);
      expect(u.ConditionExpression, name).toContain('#status = :from');
      expect(u.ExpressionAttributeValues[':from'], name).toBe(u.from);
      if (u.from !== u.to) covered.add(`${u.from}->${u.to}`);
    }
    const edges = JOB_STATUSES.flatMap((from) =>
      JOB_STATUSES.filter((to) => canTransition(from, to)).map((to) => `${from}->${to}`),
    );
    expect([...covered].sort()).toEqual(edges.sort());
  });

  it('let only the owning worker write a running job', () => {
    for (const name of [
      'progress',
      'checkpoint',
      'requeueByOwner',
      'succeed',
      'failRunning',
      'cancelRunning',
    ]) {
      const u = updates[name]!;
      expect(u.ConditionExpression, name).toContain('#workerId = :owner');
      expect(u.ExpressionAttributeValues[':owner'], name).toBe('w1');
    }
    // The API's cancel request and a stale recovery are not the owner's writes.
    expect(updates.requestCancel!.ConditionExpression).not.toContain(':owner');
    expect(updates.requeueStale!.ConditionExpression).toContain('#heartbeatAt = :seenHeartbeat');
    expect(updates.requeueNeverBeat!.ConditionExpression).toContain('attribute_not_exists(#heartbeatAt)');
  });

  it('record one end event with every terminal transition, with a stable id', () => {
    for (const [name, status] of ENDS) {
      const u = updates[name]!;
      expect(u.to).toBe(status);
      expect(u.ExpressionAttributeValues[':endEvent'], name).toEqual({
        id: endEventId('j', status as 'succeeded'),
        type: `job.${status}`,
        at: now.toISOString(),
      });
      expect(u.UpdateExpression, name).toContain('REMOVE #checkpoint');
    }
    for (const name of ['claim', 'progress', 'checkpoint', 'requeueByOwner', 'requestCancel']) {
      expect(updates[name]!.ExpressionAttributeValues[':endEvent'], name).toBeUndefined();
    }
    expect(endEventId('j', 'failed')).not.toBe(endEventId('j', 'canceled'));
  });

  it('count attempts: a claim adds one, a graceful checkpoint gives it back', () => {
    expect(updates.claim!.UpdateExpression).toContain('ADD #attempts :attempts');
    expect(updates.claim!.ExpressionAttributeValues[':attempts']).toBe(1);
    expect(updates.checkpoint!.ExpressionAttributeValues[':attempts']).toBe(-1);
    expect(updates.requeueByOwner!.UpdateExpression).not.toContain('#attempts');
  });

  it('claim a runnable job in one write: its tenant, sent, within its TTL, no cancel, attempts left', () => {
    const u = updates.claimRunnable!;
    expect([u.from, u.to]).toEqual(['queued', 'running']);
    for (const clause of [
      '#tenant = :when_tenant',
      '#dispatch = :when_dispatch',
      '#ttl >= :min_ttl',
      'attribute_not_exists(#cancelRequested)',
      '#attempts < :max_attempts',
    ]) {
      expect(u.ConditionExpression).toContain(clause);
    }
    expect(u.ExpressionAttributeValues).toMatchObject({
      ':when_tenant': 't',
      ':when_dispatch': 'sent',
      // now is 03:04:05.000: a TTL of exactly now has not passed (expired is ttl * 1000 < now).
      ':min_ttl': now.getTime() / 1000,
      ':max_attempts': 3,
      ':attempts': 1,
      ':claimedAt': now.toISOString(),
    });
    // A sent job keeps its place in the active index: no key is rewritten.
    expect(u.UpdateExpression).not.toContain('#gsi2sk');
    expect(
      t.claimRunnable(created, 'w1', new Date(now.getTime() + 1), { maxAttempts: 3 })
        .ExpressionAttributeValues[':min_ttl'],
    ).toBe(now.getTime() / 1000 + 1);
  });

  it("create puts a queued item only where none exists, in its tenant's active index as sent or held", () => {
    const job = { ...created, status: 'queued' } as JobItem;
    const sent = t.create({ ...job, dispatch: 'sent' });
    expect(sent.ConditionExpression).toBe('attribute_not_exists(pk)');
    expect(sent.Item).toMatchObject({
      pk: 'JOB#j',
      sk: 'JOB',
      gsi1pk: 'TENANT#t#JOBS',
      gsi2pk: 'TENANT#t#ACTIVE',
      gsi2sk: `S#${created.createdAt}#j`,
      status: 'queued',
      dispatch: 'sent',
      enqueuedAt: created.createdAt,
    });
    const held = t.create({ ...job, dispatch: 'held' });
    expect(held.Item).toMatchObject({ gsi2sk: `H#${created.createdAt}#j`, dispatch: 'held' });
    // A held job has no message yet: the lost-message sweep must not count it as sent.
    expect(held.Item['enqueuedAt']).toBeUndefined();
    expect(() => t.create({ ...job, status: 'running', dispatch: 'sent' })).toThrow(/starts queued/);
  });

  it('dispatch moves a held queued job to sent, once', () => {
    const u = updates.dispatch!;
    expect([u.from, u.to]).toEqual(['queued', 'queued']);
    expect(u.ConditionExpression).toContain('#dispatch = :when_dispatch');
    expect(u.ExpressionAttributeValues[':when_dispatch']).toBe('held');
    expect(u.ExpressionAttributeValues).toMatchObject({
      ':dispatch': 'sent',
      ':gsi2sk': `S#${created.createdAt}#j`,
      ':enqueuedAt': now.toISOString(),
    });
  });

  it('end with what they bill and an open outbox, out of the active index', () => {
    for (const [name] of ENDS) {
      const u = updates[name]!;
      expect(u.ExpressionAttributeValues[':billing'], name).toEqual(
        name.startsWith('fail') || name === 'expire' ? zero : billing,
      );
      expect(u.ExpressionAttributeValues[':outboxPending'], name).toBe(true);
      for (const attr of ['#dispatch', '#gsi2pk', '#gsi2sk'])
        expect(u.UpdateExpression, name).toContain(attr);
      expect(u.UpdateExpression, name).toMatch(/REMOVE .*#gsi2pk/);
    }
    expect(billing).toEqual({ gpuMs: 1234, amountMicros: 617 + 1000, currency: 'USD', month: '2026-01' });
  });

  it('close the outbox once, and keep an ended job as a tombstone when its data is deleted', () => {
    const done = updates.outboxDone!;
    expect([done.from, done.to]).toEqual(['succeeded', 'succeeded']);
    expect(done.ConditionExpression).toContain('attribute_exists(#outboxPending)');
    expect(done.UpdateExpression).toBe('REMOVE #outboxPending');

    const deleted = updates.deleteData!;
    expect([deleted.from, deleted.to]).toEqual(['canceled', 'canceled']);
    expect(deleted.ExpressionAttributeValues[':deletedAt']).toBe(now.toISOString());
    expect(deleted.UpdateExpression).toContain('REMOVE #outputs');
    // The end and what it billed stay.
    expect(deleted.UpdateExpression).not.toMatch(/#billing|#endEvent|#finishedAt/);
  });
});
