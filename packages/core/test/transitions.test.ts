import { describe, expect, it } from 'vitest';
import {
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

/** One update of every builder, with each way it can be called. */
const updates: Record<string, JobUpdate> = {
  claim: t.claim('j', 'w1', now),
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
  succeed: t.succeed('j', 'w1', now, { outputs: {}, metrics: {}, ttl: 1 }),
  failQueued: t.fail('j', queued, now, { ttl: 1, error: { code: 'x', message: 'y' } }),
  failRunning: t.fail('j', running, now, { ttl: 1, error: { code: 'x', message: 'y' } }),
  cancelQueued: t.cancel('j', queued, now, { ttl: 1 }),
  cancelRunning: t.cancel('j', running, now, { ttl: 1 }),
  expire: t.expire('j', now, { ttl: 1 }),
};

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
    const ends: [string, JobStatus][] = [
      ['succeed', 'succeeded'],
      ['failQueued', 'failed'],
      ['failRunning', 'failed'],
      ['cancelQueued', 'canceled'],
      ['cancelRunning', 'canceled'],
      ['expire', 'expired'],
    ];
    for (const [name, status] of ends) {
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

  it('create puts a queued item only where none exists', () => {
    const job = { id: 'j', tenant: 't', status: 'queued', createdAt: now.toISOString() } as JobItem;
    const put = t.create(job);
    expect(put.ConditionExpression).toBe('attribute_not_exists(pk)');
    expect(put.Item).toMatchObject({ pk: 'JOB#j', sk: 'JOB', gsi1pk: 'TENANT#t#JOBS', status: 'queued' });
    expect(() => t.create({ ...job, status: 'running' })).toThrow(/starts queued/);
  });
});
