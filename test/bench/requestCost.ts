/**
 * What one request costs on this machine: the worker's kinds of request against a local stack in its own process
 * (workerBusy.ts's), each sent one at a time after a warm-up, with its wall time, the client's CPU (the AWS SDK and
 * Node's HTTP, in this process) and the stack's (dynalite; the S3 gateway and s3rver; fauxqs), the stack's idle
 * CPU (its sweeps) over the same wall time taken off. What a job's 13 requests put on the cores besides the model:
 * the worker path's scheduler figures run on the same two cores (README, "Scheduler").
 * Run alone: npx tsx test/bench/requestCost.ts; npm run bench runs it too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type BenchStack, startStackProcess } from './workerBusy.ts';

const WARM_UP = 20;
const REQUESTS = 200;
/** The demo's noise artifact (its float64 state pair) is about this size; a report.json about 1 KiB. */
const NOISE_BYTES = 48 * 1024;
const REPORT_BYTES = 1024;
/** Long enough to see the stack's idle CPU through /proc's 10 ms ticks. */
const IDLE_MS = 2000;

export interface RequestCost {
  readonly request: string;
  readonly wallMs: number;
  readonly clientCpuMs: number;
  /** Whether the request goes to the stack (the bare floor does not). */
  readonly viaStack: boolean;
  /** Undefined where the request does not reach the stack, or /proc does not tell its CPU. */
  readonly stackCpuMs?: number;
}

/** Each kind of request's cost, against a stack process started and stopped here. */
export async function measureRequestCosts(): Promise<RequestCost[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'obelm-bench-requests-'));
  let stack: BenchStack | undefined;
  try {
    const running = await startStackProcess(join(dataDir, 'stack'), {});
    stack = running; // stopped in finally
    const { db, s3, sqs } = running.clients;
    const table = running.env['OBELM_TABLE'];
    const bucket = running.env['OBELM_BUCKET'];
    const queueUrl = running.env['OBELM_JOBS_QUEUE_URL'];
    const key = { pk: 'BENCH#0', sk: 'BENCH' };
    const noise = Buffer.alloc(NOISE_BYTES, 7);
    const report = Buffer.alloc(REPORT_BYTES, 32);
    let updates = 0;

    const idleStart = running.cpuMs();
    await sleep(IDLE_MS);
    const idleEnd = running.cpuMs();
    const idleCpuPerMs =
      idleStart !== undefined && idleEnd !== undefined ? (idleEnd - idleStart) / IDLE_MS : undefined;

    const time = async (
      name: string,
      send: (i: number) => Promise<unknown>,
      viaStack = true,
    ): Promise<RequestCost> => {
      for (let i = 0; i < WARM_UP; i++) await send(i);
      const stackBefore = running.cpuMs();
      const cpuBefore = process.cpuUsage();
      const start = performance.now();
      for (let i = 0; i < REQUESTS; i++) await send(i);
      const wallMs = performance.now() - start;
      const cpu = process.cpuUsage(cpuBefore);
      const stackAfter = running.cpuMs();
      return {
        request: name,
        wallMs: wallMs / REQUESTS,
        clientCpuMs: (cpu.user + cpu.system) / 1000 / REQUESTS,
        viaStack,
        ...(viaStack && stackBefore !== undefined && stackAfter !== undefined && idleCpuPerMs !== undefined
          ? { stackCpuMs: (stackAfter - stackBefore - idleCpuPerMs * wallMs) / REQUESTS }
          : {}),
      };
    };

    // The floor: a keep-alive HTTP round trip with a body as small as a GetItem's, to a server in this process
    // that answers at once (its CPU is in the client column).
    const bare = await bareServer();
    const bareCost = await time('bare HTTP POST (server in this process)', () => bare.post(), false);
    await bare.close();

    return [
      bareCost,
      // Each update's n is higher than any before it, so the condition holds, as a claim's does.
      await time('DynamoDB UpdateItem (conditional)', () =>
        db.send(
          new UpdateCommand({
            TableName: table,
            Key: key,
            UpdateExpression: 'SET n = :n',
            ConditionExpression: 'attribute_not_exists(n) OR n < :n',
            ExpressionAttributeValues: { ':n': ++updates },
          }),
        ),
      ),
      // The item the updates wrote, read back whole, as a worker reads a job's.
      await time('DynamoDB GetItem (consistent)', () =>
        db.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true })),
      ),
      await time(`S3 PutObject ${REPORT_BYTES / 1024} KiB`, (i) =>
        s3.send(new PutObjectCommand({ Bucket: bucket, Key: `bench/report-${i % 10}`, Body: report })),
      ),
      await time(`S3 PutObject ${NOISE_BYTES / 1024} KiB`, (i) =>
        s3.send(new PutObjectCommand({ Bucket: bucket, Key: `bench/noise-${i % 10}`, Body: noise })),
      ),
      await time('SQS SendMessage', () =>
        sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: '{}' })),
      ),
      await time('SQS ReceiveMessage + DeleteMessage', async () => {
        const { Messages } = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 0 }),
        );
        const handle = Messages?.[0]?.ReceiptHandle;
        if (handle) await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: handle }));
      }),
    ];
  } finally {
    await stack?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** A Node HTTP server on loopback that answers every POST at once, and a keep-alive client for it. */
async function bareServer(): Promise<{ post(): Promise<void>; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    req.resume().on('end', () => res.end('{"Item":{}}'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const agent = new Agent({ keepAlive: true });
  const body = JSON.stringify({ TableName: 'obelm', Key: { pk: { S: 'BENCH#0' }, sk: { S: 'BENCH' } } });
  return {
    post: () =>
      new Promise((resolve, reject) => {
        request({ host: '127.0.0.1', port, method: 'POST', agent }, (res) => {
          res.resume().on('end', resolve);
        })
          .on('error', reject)
          .end(body);
      }),
    close: async () => {
      agent.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const costs = await measureRequestCosts();
  const ms = (value: number | undefined) => (value === undefined ? '?' : value.toFixed(2));
  console.table(
    costs.map((cost) => ({
      request: cost.request,
      'wall ms': ms(cost.wallMs),
      'client CPU ms': ms(cost.clientCpuMs),
      'stack CPU ms': cost.viaStack ? ms(cost.stackCpuMs) : '',
    })),
  );
}
