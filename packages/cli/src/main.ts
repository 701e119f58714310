import { apiFailure } from './api.ts';
import { type Command, runCommand } from './command.ts';
import { CliError, EXIT, usageError } from './errors.ts';
import { batchCommand } from './jobs/batch.ts';
import { JOB_COMMANDS } from './jobs/kinds.ts';
import { MANAGE_COMMANDS } from './jobs/manage.ts';
import { modelsCommand } from './jobs/models.ts';
import { JOB_OPTIONS_HELP } from './jobs/options.ts';
import { usageCommand } from './usage.ts';

/**
 * `obelm`: the command line of the service. `obelm sample|edit|invert|reconstruct|interpolate` run jobs through
 * the API and `obelm batch` a folder of them, `obelm jobs <command>` manages them, `obelm models` and `obelm usage` read the catalog and the month's
 * usage; `obelm admin <command>` manages tenants and keys, `obelm admin models <command>` the model bundles.
 * Exit codes (errors.ts EXIT): 0 done, 1 an API, network or other failure, 2 a command line it cannot run,
 * 3 a job that ended failed, canceled or expired.
 */

const help = (commands: readonly Command[], prefix: string) =>
  commands.map((c) => `  ${prefix}${c.name} ${c.synopsis}\n      ${c.summary}`).join('\n');

/**
 * The admin commands, loaded only when asked for: they bring the AWS SDK, which the job commands (the ones run
 * most, in loops and scripts) do not need to start.
 */
async function adminCommands(): Promise<{ admin: readonly Command[]; models: readonly Command[] }> {
  const [{ ADMIN_COMMANDS }, { MODEL_COMMANDS }] = await Promise.all([
    import('./admin.ts'),
    import('./models.ts'),
  ]);
  return { admin: ADMIN_COMMANDS, models: MODEL_COMMANDS };
}

const helpText = (admin: readonly Command[], models: readonly Command[]) =>
  [
    'usage: obelm <command>',
    '',
    'Jobs, through the API (--key/--url, else OBELM_API_KEY/OBELM_API_URL, else the running local stack and its',
    'dev key). Input images are uploaded; progress goes to stderr; -o names the output (default: the job id in',
    'the current folder); --json prints the final job on stdout.',
    JOB_OPTIONS_HELP,
    help([...JOB_COMMANDS, batchCommand], 'obelm '),
    help(MANAGE_COMMANDS, 'obelm jobs '),
    help([modelsCommand, usageCommand], 'obelm '),
    '',
    'Tenants and keys, on the running local stack (found through OBELM_DATA_DIR, default .obelm), or with',
    '--stage <name> on a deployed stage (AWS credentials and region from the environment):',
    help(admin, 'obelm admin '),
    '',
    'Model bundles (a folder in the diffusers/optimum ONNX layout, or an obelm bundle), on the same targets:',
    help(models, 'obelm admin models '),
    '',
    'Exit codes: 0 done; 1 an API, network or other failure; 2 a command line it cannot run;',
    '3 the job ended failed, canceled or expired (its error code and message on stderr).',
  ].join('\n');

/** The top-level commands that are one command each. */
const SINGLE_COMMANDS: readonly Command[] = [...JOB_COMMANDS, batchCommand, modelsCommand, usageCommand];

async function main(args: string[]): Promise<void> {
  const [first, second, ...rest] = args;
  const single = SINGLE_COMMANDS.find((c) => c.name === first);
  if (single) return runCommand(single, args.slice(1));
  if (first === 'jobs') return runCommand(pick(MANAGE_COMMANDS, second, 'jobs'), rest);
  const isHelp = first === undefined || first === 'help' || first === '--help' || first === '-h';
  if (!isHelp && first !== 'admin') throw usageError(`unknown command '${first}': try obelm --help`);
  const { admin, models } = await adminCommands();
  if (isHelp) {
    const help = helpText(admin, models);
    if (first === undefined) throw usageError(`no command\n${help}`);
    return void process.stdout.write(`${help}\n`);
  }
  if (second === 'models') {
    const [third, ...modelArgs] = rest;
    return runCommand(pick(models, third, 'admin models'), modelArgs);
  }
  await runCommand(pick(admin, second, 'admin'), rest);
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
  (thrown: unknown) => {
    // The SDK's errors (an API answer, no answer) are failures told in one line, like the command line's own.
    const err = apiFailure(thrown);
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
