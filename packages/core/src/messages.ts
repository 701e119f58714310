import { z } from 'zod';
import { IdSchema } from './jobs.ts';

/** A jobs-queue message: ids only, never payloads; versioned so old workers can refuse new shapes. */
export const JobMessageSchema = z.strictObject({ v: z.literal(1), jobId: IdSchema, tenant: IdSchema });
export type JobMessage = z.infer<typeof JobMessageSchema>;

export const jobMessage = (jobId: string, tenant: string): JobMessage => ({ v: 1, jobId, tenant });
