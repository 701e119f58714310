/** Structured one-line JSON logs (CloudWatch / local console alike). */
export type LogFields = Record<string, unknown>;

export interface Logger {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export function jsonLogger(base: LogFields = {}): Logger {
  const write = (level: string, msg: string, fields?: LogFields) => {
    const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields });
    if (level === 'info') console.log(line);
    else console.error(line);
  };
  return {
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
  };
}

export const describeError = (error: unknown): LogFields =>
  error instanceof Error
    ? { error: error.message, errorName: error.name, ...('code' in error ? { code: error.code } : {}) }
    : { error: String(error) };
