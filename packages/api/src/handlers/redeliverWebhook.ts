import { conflict } from '@obelm/core';
import { jobWebhookEvent, redeliverWebhookEvent } from '@obelm/store';
import { type DepsProvider, lambdaDepsProvider } from '../deps.ts';
import { authedRoute } from '../handler.ts';
import { json } from '../http.ts';
import { getTenantJob } from '../jobs/store.ts';
import { toJobView } from '../jobs/view.ts';
import { jobIdParam } from './getJob.ts';

/**
 * POST /v1/jobs/{id}/webhook/redeliver: the job's end event goes to its webhook again, under the same
 * webhook-id, with a fresh schedule of attempts (the past ones stay listed). 409 `no_webhook_event` when there is
 * nothing to send: no webhook, not ended, its end not subscribed, or the event not produced yet (the relay of
 * the job's end puts it within moments).
 */
export const buildRedeliverWebhook = (deps: DepsProvider) =>
  authedRoute(deps, async (event, caller, d) => {
    const job = await getTenantJob(d, caller.tenant, jobIdParam(event));
    const webhookEvent = jobWebhookEvent(job);
    if (!webhookEvent) {
      throw conflict('no_webhook_event', `Job '${job.id}' has no webhook event to send`, {
        jobId: job.id,
        status: job.status,
        reason: !job.webhook ? 'no_webhook' : job.endEvent ? 'not_subscribed' : 'not_ended',
      });
    }
    const outcome = await redeliverWebhookEvent(d.store, webhookEvent.eventId);
    if (outcome !== 'redelivered') {
      throw conflict(
        'no_webhook_event',
        `Job '${job.id}''s event is not ready to send again; retry shortly`,
        {
          jobId: job.id,
          reason: outcome,
        },
      );
    }
    return json(202, await toJobView(d, job));
  });

export const handler = buildRedeliverWebhook(lambdaDepsProvider);
