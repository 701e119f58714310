import { ADMIN_COMMANDS } from './admin.ts';
import { type Command, runCommand } from './command.ts';
import { CliError, EXIT, usageError } from './errors.ts';
import { MODEL_COMMANDS } from './models.ts';
import { usageCommand } from './usage.ts';

/**
 * `obelm`: the command line of the service. `obelm admin <command>` manages tenants and keys, `obelm admin models
 * <command>` the model bundles; `obelm usage` shows a month's usage. Exit codes: 0 done, 2 a command line it
 * cannot run, 1 anything that failed.
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
  'Model bundles (a folder in the diffusers/optimum ONNX layout, or an obelm bundle), on the same targets:',
  help(MODEL_COMMANDS, 'obelm admin models '),
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
  if (second === 'models') {
    const [third, ...modelArgs] = rest;
    return runCommand(pick(MODEL_COMMANDS, third, 'admin models'), modelArgs);
  }
  await runCommand(pick(ADMIN_COMMANDS, second, 'admin'), rest);
}

/** The command of a group by its name, or a usage error that lists the group's commands. */
function pick(commands: readonly Command[], name: string | undefined, group: string): Command {
  const command = commands.find((c) => c.name === name);
  if (command) return command;
  const names = [...commands.map((c) => c.name), ...(group === 'admin' ? ['models'] : [])].join(', ');
  throw usageError(`${name ? `unknown ${group} command '${name}'` : `${group} needs a command`}: ${names}`);
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
