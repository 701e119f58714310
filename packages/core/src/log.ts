import { LogLevel, Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';

/** Structured fields of one log line, flat and JSON-serialisable. */
export type LogFields = Record<string, unknown>;

/**
 * The logger of every service (API, sweeper, worker): one JSON line per call, with `level`, `message`,
 * `timestamp`, `service` and the fields. `level`, `message`, `service` and `timestamp` are the line's own
 * keys: a field of that name is dropped, so name it otherwise (e.g. `error` for an error's message).
 */
export interface Logger {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** This logger with `keys` on every line as well: one per job carries its jobId and tenant. */
  child(keys: LogFields): Logger;
}

/**
 * A logger for `service` (Powertools Logger underneath, so Lambda and the container print alike), with `keys`
 * on every line. The level comes from POWERTOOLS_LOG_LEVEL, else OBELM_LOG_LEVEL, else INFO.
 */
export function createLogger(service: string, keys: LogFields = {}): Logger {
  return wrap(new PowertoolsLogger({ serviceName: service, logLevel: levelFromEnv(), persistentKeys: keys }));
}

type Level = (typeof LogLevel)[keyof typeof LogLevel];
const levels: readonly string[] = Object.values(LogLevel);
const isLevel = (name: string): name is Level => levels.includes(name);

function levelFromEnv(): Level {
  const name = (process.env['POWERTOOLS_LOG_LEVEL'] || process.env['OBELM_LOG_LEVEL'] || '').toUpperCase();
  return isLevel(name) ? name : LogLevel.INFO;
}

function wrap(logger: PowertoolsLogger): Logger {
  return {
    info: (msg, fields) => logger.info(msg, fields ?? {}),
    warn: (msg, fields) => logger.warn(msg, fields ?? {}),
    error: (msg, fields) => logger.error(msg, fields ?? {}),
    child: (keys) => wrap(logger.createChild({ persistentKeys: keys })),
  };
}

/**
 * The fields that describe a thrown value: its message, class name and code when it has one, and its stack
 * when asked (for a bug, where the stack is what tells where it is).
 */
export function describeError(error: unknown, options: { readonly stack?: boolean } = {}): LogFields {
  if (!(error instanceof Error)) return { error: String(error) };
  return {
    error: error.message,
    errorName: error.name,
    ...('code' in error ? { code: error.code } : {}),
    ...(options.stack ? { stack: error.stack } : {}),
  };
}
