export { createApiServer, toHttpEvent } from './adapter.ts';
export { type LocalConfig, LocalConfigSchema } from './config.ts';
export { PortInUseError } from './listen.ts';
export { AlreadyRunningError, acquireLock } from './lock.ts';
export type { RestartableStandIn } from './restartable.ts';
export { type LocalStack, type LocalStackOptions, startLocalStack } from './stack.ts';
