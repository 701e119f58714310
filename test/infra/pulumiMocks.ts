import * as pulumi from '@pulumi/pulumi';

/** One resource the program under test registered, with the inputs it passed. */
export interface Recorded {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  /**
   * Names of the resources this one waits for, as the engine receives them: explicit `dependsOn` plus the
   * resources whose outputs feed its inputs.
   */
  dependencies: string[];
}

/** The part of a RegisterResourceRequest the recorder reads. */
interface RegisterRequest {
  getType(): string;
  getName(): string;
  getDependenciesList(): string[];
}

/**
 * Runs Pulumi programs offline: every resource is recorded instead of created, and gets a fake id and ARN.
 * Call before importing modules that create resources.
 */
export async function recordResources(): Promise<Recorded[]> {
  const recorded: Recorded[] = [];
  const dependencies = new Map<string, string[]>();
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const deps = dependencies.get(`${args.type}::${args.name}`) ?? [];
        recorded.push({ type: args.type, name: args.name, inputs: args.inputs, dependencies: deps });
        const arnKind = args.type.split(':')[1]?.split('/')[0] ?? 'x';
        return {
          id: `${args.name}-id`,
          state: {
            ...args.inputs,
            name: args.inputs.name ?? `${args.name}-name`,
            arn: `arn:aws:${arnKind}:us-east-1:123456789012:${args.name}`,
            url: `https://sqs.us-east-1.amazonaws.com/123456789012/${args.name}`,
            bucket: args.inputs.bucket ?? `${args.name}-bucket`,
            // What Image Builder reports once an image is built: the AMI it made.
            ...(args.type === 'aws:imagebuilder/image:Image' && {
              outputResources: [{ amis: [{ image: `ami-${args.name}` }], containers: [] }],
            }),
          },
        };
      },
      call(args) {
        if (args.token === 'aws:index/getRegion:getRegion') return { name: 'us-east-1', region: 'us-east-1' };
        if (args.token === 'aws:index/getCallerIdentity:getCallerIdentity') {
          return { accountId: '123456789012', arn: 'arn:aws:iam::123456789012:root', userId: 'test' };
        }
        return args.inputs;
      },
    },
    'obelm',
    'test',
    false,
  );
  // The mocks' newResource does not see dependencies; the monitor's request does (URNs end in the name).
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(req: RegisterRequest, callback: unknown): unknown;
  };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, callback) => {
    const names = req.getDependenciesList().map((urn) => urn.split('::').pop() ?? urn);
    dependencies.set(`${req.getType()}::${req.getName()}`, names);
    return register(req, callback);
  };
  return recorded;
}

/** The resolved value of an Output (mocks resolve every value, so this never hangs). */
export function resolved<T>(output: pulumi.Input<T>): Promise<T> {
  return new Promise((resolve) => pulumi.output(output).apply((v) => resolve(v as T)));
}

/** Every recorded resource of a Pulumi type token. */
export function ofType(recorded: Recorded[], type: string): Recorded[] {
  return recorded.filter((r) => r.type === type);
}

/** The recorded resource of `type` with exactly this name (or the only one of that type). */
export function one(recorded: Recorded[], type: string, name?: string): Recorded {
  const found = ofType(recorded, type).filter((r) => name === undefined || r.name === name);
  if (found.length !== 1) {
    const names = ofType(recorded, type).map((r) => r.name);
    throw new Error(`expected one ${type} named ${name ?? '(any)'}; have: ${names.join(', ')}`);
  }
  return found[0]!;
}

/** Lets Pulumi finish registering everything a constructor started. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 50));
}
