import { ConfigError, loadConfig } from '@obelm/core';
import { dataDirOf, LocalConfigSchema } from './config.ts';
import { PortInUseError } from './listen.ts';
import { AlreadyRunningError } from './lock.ts';
import { startLocalStack } from './stack.ts';

/** `npm start`: the whole service on this machine until Ctrl-C. */
async function main(): Promise<void> {
  // The local stack runs on Node 20, which the AWS SDK warns about at every client; the cloud runs Node 22.
  // Workers inherit this through their environment.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  const config = loadConfig(LocalConfigSchema);
  const stack = await startLocalStack({
    dataDir: dataDirOf(config),
    port: config.OBELM_PORT,
    host: config.OBELM_HOST,
    worker: config.OBELM_WORKERS,
    tenant: config.OBELM_DEV_TENANT,
    ...(config.OBELM_STALE_SECONDS ? { staleAfterMs: config.OBELM_STALE_SECONDS * 1000 } : {}),
    sweepEverySeconds: config.OBELM_SWEEP_SECONDS,
    ...(config.OBELM_DEV_API_KEY ? { devApiKey: config.OBELM_DEV_API_KEY } : {}),
    // Validated with the rest of the service's settings when the stack builds its clients (a ConfigError).
    serviceEnv: Object.fromEntries(
      (['OBELM_TENANT_LIMITS', 'OBELM_PRICES', 'OBELM_WEBHOOK_ALLOW_LOOPBACK'] as const).flatMap((name) =>
        config[name] === undefined ? [] : [[name, config[name]]],
      ),
    ),
  });
  const { requeued, recovered, expired } = stack.swept;
  // The command line finds this stack through its data folder (its discovery file).
  const obelm = process.env['OBELM_DATA_DIR'] ? `OBELM_DATA_DIR=${stack.dataDir} npx obelm` : 'npx obelm';
  console.log(
    [
      '',
      `obelm is running (data in ${stack.dataDir})`,
      `  API:      ${stack.apiUrl}  (OpenAPI: ${stack.apiUrl}/v1/openapi.json)`,
      `  web:      ${stack.apiUrl}/  (the playground, with the dev key filled in)`,
      `  API key:  ${stack.devKey}  (tenant ${stack.tenant})`,
      ...(stack.devKeyReplaced
        ? [`            a new key: the one kept in the data folder was ${stack.devKeyReplaced}`]
        : []),
      `  workers:  ${stack.workers}${stack.workers ? ' (restarted if they exit)' : ''}`,
      ...(requeued.length + recovered.length + expired.length
        ? [
            `  resumed:  ${requeued.length} queued, ${recovered.length} stale running; expired ${expired.length}`,
          ]
        : []),
      '',
      'Try:',
      `  curl -s -X POST ${stack.apiUrl}/v1/jobs -H 'Authorization: Bearer ${stack.devKey}' \\`,
      `    -H 'content-type: application/json' -d '{"kind":"sample","prompt":"a red circle","seed":1}'`,
      `  ${obelm} admin create-tenant acme && ${obelm} admin create-key --tenant acme   # a tenant and its key`,
      '',
    ].join('\n'),
  );

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\nobelm: ${signal}, stopping...`);
    stack.stop().then(
      () => process.exit(0),
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

/** Exit codes of the start-up failures a user can fix, each told in one line: the rest is a bug, with its stack. */
const EXIT_CODES = [
  [ConfigError, 2],
  [AlreadyRunningError, 3],
  [PortInUseError, 4],
] as const;

main().catch((err: unknown) => {
  const known = EXIT_CODES.find(([type]) => err instanceof type);
  if (known && err instanceof Error) {
    console.error(`obelm: ${err.message}`);
    process.exit(known[1]);
  }
  console.error('obelm: failed to start:', err);
  process.exit(1);
});
