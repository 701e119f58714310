/**
 * The HTTP API and its Lambda functions: SST components, so this file runs (and type-checks) only inside
 * the SST app. Each function gets exactly the grants access.ts lists for it, through one SST link per grant,
 * and reads resource names from OBELM_* environment variables (packages/core/src/config.ts).
 */
import { API_CORS, type LambdaHandlerName, QUEUE_HANDLERS } from '@obelm/core';
import { type Grants, HANDLER_GRANTS } from './access.ts';
import { type Environment, functionEnvironment, type GrantEnvironment } from './environment.ts';
import { type HandlerQueueName, QUEUE_OF, queueEventSource, queueHandlerTimeoutSeconds } from './queues.ts';
import { HANDLERS_DIR, httpRoutes } from './routes.ts';

export interface HttpApiArgs {
  grants: Grants;
  /** OBELM_* variables every handler reads. */
  environment: Environment;
  /** Variables only the handlers holding a grant get (environment.ts). */
  grantEnvironment: GrantEnvironment;
  /** The queues that feed the queue handlers (core QUEUE_HANDLERS), by core's queue name. */
  queueArns: Record<HandlerQueueName, $util.Input<string>>;
  /** Requests per second before API Gateway throttles (burst: twice that). */
  rateLimit: number;
  logRetentionDays: keyof typeof LOG_RETENTION;
}

/**
 * Core's API_CORS in ApiGatewayV2's terms: API Gateway answers the preflights and adds the headers to every
 * answer, so the handlers and the local adapter know nothing of CORS.
 */
const API_GATEWAY_CORS: sst.aws.ApiGatewayV2Args['cors'] = {
  allowOrigins: [...API_CORS.allowOrigins],
  allowMethods: [...API_CORS.allowMethods],
  allowHeaders: [...API_CORS.allowHeaders],
  exposeHeaders: [...API_CORS.exposeHeaders],
  maxAge: `${API_CORS.maxAgeSeconds} seconds`,
  allowCredentials: API_CORS.allowCredentials,
};

/** Retention periods SST accepts, by days (stacks/settings.ts validates against these keys). */
export const LOG_RETENTION = {
  7: '1 week',
  14: '2 weeks',
  30: '1 month',
  90: '3 months',
  365: '1 year',
} as const;

export function createHttpApi(args: HttpApiArgs) {
  // One linkable per grant: a function links the grants it needs and gets exactly those IAM statements.
  const links = Object.fromEntries(
    Object.entries(args.grants).map(([name, grant]) => [
      name,
      new sst.Linkable(`Grant${name[0]!.toUpperCase()}${name.slice(1)}`, {
        properties: { actions: grant.actions },
        include: [sst.aws.permission(grant)],
      }),
    ]),
  ) as Record<keyof Grants, sst.Linkable<{ actions: string[] }>>;

  const functionArgs = (handler: LambdaHandlerName): sst.aws.FunctionArgs => ({
    handler: `${HANDLERS_DIR}/${handler}.handler`,
    runtime: 'nodejs22.x',
    architecture: 'arm64',
    memory: '512 MB',
    // getJob long-polls up to MAX_JOB_WAIT_SECONDS (20 s, packages/core) and stops 1 s before its deadline;
    // HTTP API integrations time out at 30 s.
    timeout: handler === 'getJob' ? '25 seconds' : '15 seconds',
    environment: functionEnvironment(args.environment, HANDLER_GRANTS[handler], args.grantEnvironment),
    link: HANDLER_GRANTS[handler].map((grant) => links[grant]),
    logging: { retention: LOG_RETENTION[args.logRetentionDays], format: 'json' },
    nodejs: { format: 'esm', sourcemap: true },
  });

  const api = new sst.aws.ApiGatewayV2('Api', {
    cors: API_GATEWAY_CORS,
    transform: {
      stage: (stage) => {
        stage.defaultRouteSettings = {
          throttlingRateLimit: args.rateLimit,
          throttlingBurstLimit: 2 * args.rateLimit,
        };
      },
    },
  });
  for (const { route, handler } of httpRoutes()) api.route(route, functionArgs(handler));

  // The cloud's reconciliation (the local stack runs the same sweep at start): re-enqueue queued jobs whose
  // message was lost, put running jobs with a stale heartbeat back in the queue, expire jobs past their TTL.
  // CronV2: EventBridge Scheduler (SST's successor to Cron's EventBridge rule); retries stay at 0, the next
  // run is minutes away and a sweep is idempotent.
  new sst.aws.CronV2('Sweeper', {
    function: { ...functionArgs('sweeper'), timeout: '2 minutes' },
    schedule: `rate(${SWEEP_MINUTES} minutes)`,
  });

  // The queue handlers: Lambda polls each one's queue (10 messages a batch, failures reported per message).
  // The webhook dispatcher's timeout is core's WEBHOOK_DISPATCH_TIMEOUT_SECONDS, from which its queue's
  // visibility is derived.
  const queueHandlers = QUEUE_HANDLERS.map((handler) => {
    const id = `${handler[0]!.toUpperCase()}${handler.slice(1)}`;
    const fn = new sst.aws.Function(id, {
      ...functionArgs(handler),
      timeout: `${queueHandlerTimeoutSeconds(handler)} seconds`,
    });
    queueEventSource(`${id}Source`, {
      queueArn: args.queueArns[QUEUE_OF[handler]],
      functionName: fn.name,
    });
    return fn;
  });
  return { api, functionArgs, queueHandlers };
}

/** How often the sweeper runs; a job is stale after two missed heartbeats (core queues.ts `staleAfterMs`). */
export const SWEEP_MINUTES = 5;
