import {
  DescribeServicesCommand,
  ECSClient,
  type ECSClientConfig,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { describeError, type Logger } from '@obelm/core';

/**
 * The two ECS calls the nudge makes, as data: in the cloud an ECSClient sends them (`ecsSender`), a test
 * passes a plain object with `send`.
 */
export type FleetCommand =
  | { name: 'DescribeServices'; input: { cluster: string; services: string[] } }
  | { name: 'UpdateService'; input: { cluster: string; service: string; desiredCount: number } };

export interface EcsSender {
  send(command: FleetCommand): Promise<unknown>;
}

export type NudgeOutcome = 'started' | 'running' | 'skipped' | 'failed';

export interface Fleet {
  /** After a job is enqueued: start the worker service when it has no task wanted. Never throws. */
  nudge(): Promise<NudgeOutcome>;
}

export interface FleetOptions {
  cluster: string;
  service: string;
  ecs: EcsSender;
  log: Logger;
  /** At most one DescribeServices per this many ms per container. Default NUDGE_INTERVAL_MS. */
  intervalMs?: number;
  now?: () => number;
}

/**
 * Often enough that a job created just after the fleet went to zero still starts it within seconds; rarely
 * enough that a burst of jobs costs one DescribeServices per Lambda container (ECS throttles its API per account).
 */
export const NUDGE_INTERVAL_MS = 30_000;

/**
 * Scale from zero in seconds. The backlog alarm that scales the worker service (infra/backlogScaling.ts) reads
 * SQS's per-minute metrics, which CloudWatch sees only minutes after a message arrives; a job enqueued into an
 * empty fleet would wait that long before an instance even starts booting. So createJob, once its message is
 * sent, asks ECS for the service's desired count and sets it to 1 when it is 0; the alarm takes over from
 * there (more tasks for a longer backlog, back to the minimum when idle). Errors are logged only: the job is
 * queued already, and the alarm still starts the fleet, later.
 */
export function createFleet({
  cluster,
  service,
  ecs,
  log,
  intervalMs = NUDGE_INTERVAL_MS,
  now = Date.now,
}: FleetOptions): Fleet {
  let lastAsked = Number.NEGATIVE_INFINITY;
  return {
    async nudge() {
      const at = now();
      if (at - lastAsked < intervalMs) return 'skipped';
      lastAsked = at;
      try {
        const reply = await ecs.send({ name: 'DescribeServices', input: { cluster, services: [service] } });
        const desired = desiredCountOf(reply);
        if (desired === undefined) {
          log.warn('worker service not found; cannot start it', { cluster, service });
          return 'failed';
        }
        if (desired > 0) return 'running';
        await ecs.send({ name: 'UpdateService', input: { cluster, service, desiredCount: 1 } });
        log.info('started the worker service from zero tasks', { cluster, service });
        return 'started';
      } catch (err) {
        log.warn('could not start the worker service; its backlog alarm will', {
          cluster,
          service,
          ...describeError(err),
        });
        return 'failed';
      }
    },
  };
}

/** The desired count of the one service a DescribeServices reply describes. */
function desiredCountOf(reply: unknown): number | undefined {
  const services = (reply as { services?: { desiredCount?: unknown }[] } | undefined)?.services;
  const count = services?.[0]?.desiredCount;
  return typeof count === 'number' ? count : undefined;
}

/** An ECSClient behind `EcsSender`. */
export function ecsSender(clientConfig: ECSClientConfig): EcsSender {
  const client = new ECSClient(clientConfig);
  return {
    send: (command) =>
      command.name === 'DescribeServices'
        ? client.send(new DescribeServicesCommand(command.input))
        : client.send(new UpdateServiceCommand(command.input)),
  };
}
