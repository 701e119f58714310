import { createLogger } from '@obelm/core';

/** The HTTP API's logger: one JSON line per call, with the fields given (requestId, jobId, tenant...). */
export const apiLog = createLogger('api');
