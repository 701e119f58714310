import { ADMIN_COMMANDS } from './admin.ts';
import { type Command, runCommand } from './command.ts';
import { CliError, EXIT, usageError } from './errors.ts';
import { usageCommand } from './usage.ts';

/**
 * `obelm`: the command line of the service. `obelm admin <command>` manages tenants and keys; `obelm usage`
 * shows a month's usage. Exit codes: 0 done, 2 a command line it cannot run, 1 anything that failed.
 */

const help = (commands: readonly Command[], prefix: string) =>
  commands.map((c) => `  ${prefix}${c.name} ${c.synopsis}\n      ${c.summary}`).join('\n');

const HELP = [
  'usage: obelm <command>',
  '',
  'Tenants and keys, on the running local stack (found through OBELM_DATA_DIR, default .obelm), or with',
  '--stage <name> on a deployed stage (AWS credentials and region from the environment):',
  help(ADMIN_COMMANDS, 'obelm admin '),
  '',
  'Usage, through the API (--key/--url, else OBELM_API_KEY/OBELM_API_URL, else the local stack and its dev key):',
  help([usageCommand], 'obelm '),
].join('\n');

async function main(args: string[]): Promise<void> {
  const [first, second, ...rest] = args;
  if (first === undefined || first === 'help' || first === '--help' || first === '-h') {
    if (first === undefined) throw usageError(`no command\n${HELP}`);
    return void process.stdout.write(`${HELP}\n`);
  }
  if (first === 'usage') return runCommand(usageCommand, args.slice(1));
  if (first !== 'admin') throw usageError(`unknown command '${first}': try obelm --help`);
  const command = ADMIN_COMMANDS.find((c) => c.name === second);
  if (!command) {
    const names = ADMIN_COMMANDS.map((c) => c.name).join(', ');
    throw usageError(`${second ? `unknown admin command '${second}'` : 'admin needs a command'}: ${names}`);
  }
  await runCommand(command, rest);
}

// The AWS SDK warns at every client on Node 20 (the local stack's Node); the cloud runs Node 22.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

main(process.argv.slice(2)).then(
  () => process.exit(EXIT.ok),
  (err: unknown) => {
    if (err instanceof CliError) {
      process.stderr.write(`obelm: ${err.message}\n`);
      process.exit(err.exitCode);
    }
    // An AWS or network failure in one line; a bug keeps its stack.
    const aws = err instanceof Error && '$metadata' in err;
    process.stderr.write(
      aws
        ? `obelm: ${err.name}: ${err.message}\n`
        : `obelm: failed: ${String((err as Error)?.stack ?? err)}\n`,
    );
    process.exit(EXIT.failure);
  },
);
