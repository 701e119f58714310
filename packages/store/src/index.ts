export * from './context.ts';
export * from './dispatch.ts';
export * from './jobTable.ts';
export * from './outbox.ts';
export * from './rateLimit.ts';
export * from './tenants.ts';
export * from './usage.ts';
