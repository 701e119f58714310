import type { Logger } from '@obelm/core';
import { describe, expect, it } from 'vitest';
import { createFleet, type EcsSender, type FleetCommand } from '../src/jobs/fleet.ts';

/** An ECS service as the two calls see it: its desired count, every command sent, and an optional failure. */
function fakeEcs(desiredCount: number, fail?: Error) {
  const sent: FleetCommand[] = [];
  const ecs: EcsSender = {
    async send(command) {
      sent.push(command);
      if (fail) throw fail;
      if (command.name === 'UpdateService') {
        desiredCount = command.input.desiredCount;
        return { service: { desiredCount } };
      }
      return { services: [{ serviceName: command.input.services[0], desiredCount }] };
    },
  };
  return { ecs, sent, desired: () => desiredCount };
}

function recordingLog() {
  const lines: { level: string; msg: string }[] = [];
  const log: Logger = {
    info: (msg) => lines.push({ level: 'info', msg }),
    warn: (msg) => lines.push({ level: 'warn', msg }),
    error: (msg) => lines.push({ level: 'error', msg }),
    child: () => log,
  };
  return { log, lines };
}

const names = { cluster: 'obelm-workers', service: 'worker' };

describe('starting the worker fleet from zero', () => {
  it('sets the desired count of a service at zero to one', async () => {
    const ecs = fakeEcs(0);
    const fleet = createFleet({ ...names, ecs: ecs.ecs, log: recordingLog().log });
    expect(await fleet.nudge()).toBe('started');
    expect(ecs.desired()).toBe(1);
    expect(ecs.sent).toEqual([
      { name: 'DescribeServices', input: { cluster: 'obelm-workers', services: ['worker'] } },
      { name: 'UpdateService', input: { cluster: 'obelm-workers', service: 'worker', desiredCount: 1 } },
    ]);
  });

  it('leaves a service that already wants tasks alone', async () => {
    const ecs = fakeEcs(3);
    const fleet = createFleet({ ...names, ecs: ecs.ecs, log: recordingLog().log });
    expect(await fleet.nudge()).toBe('running');
    expect(ecs.desired()).toBe(3);
    expect(ecs.sent.map((c) => c.name)).toEqual(['DescribeServices']);
  });

  it('asks ECS at most once per interval', async () => {
    const ecs = fakeEcs(0);
    let clock = 1_000_000;
    const fleet = createFleet({
      ...names,
      ecs: ecs.ecs,
      log: recordingLog().log,
      intervalMs: 30_000,
      now: () => clock,
    });
    expect(await fleet.nudge()).toBe('started');
    clock += 29_999;
    expect(await fleet.nudge()).toBe('skipped');
    expect(ecs.sent).toHaveLength(2);
    clock += 1;
    expect(await fleet.nudge()).toBe('running');
    expect(ecs.sent).toHaveLength(3);
  });

  it('logs and swallows an ECS error, and a service ECS does not know', async () => {
    const denied = Object.assign(new Error('not authorized to perform ecs:DescribeServices'), {
      name: 'AccessDeniedException',
    });
    const { log, lines } = recordingLog();
    expect(await createFleet({ ...names, ecs: fakeEcs(0, denied).ecs, log }).nudge()).toBe('failed');
    const missing: EcsSender = { send: async () => ({ services: [], failures: [{ reason: 'MISSING' }] }) };
    expect(await createFleet({ ...names, ecs: missing, log }).nudge()).toBe('failed');
    expect(lines.map((l) => l.level)).toEqual(['warn', 'warn']);
  });
});
