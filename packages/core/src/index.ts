export * from './config.ts';
export * from './errors.ts';
export * from './ids.ts';
export * from './jobs.ts';
export * from './keys.ts';
export * from './messages.ts';
export * from './models.ts';
export * from './state.ts';
