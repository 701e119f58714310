export { createApiServer, toHttpEvent } from './adapter.ts';
export { type LocalConfig, LocalConfigSchema } from './config.ts';
export { AlreadyRunningError, acquireLock } from './lock.ts';
export { type LocalStack, type LocalStackOptions, startLocalStack } from './stack.ts';
