/**
 * Device time, as the model calls of a piece of work used it: what a job is billed. The session host measures
 * each inference on its own thread (sessionHost.ts), the span onnxruntime holds the device for, and the main
 * side adds it to the measurement the call was made in (sessionThread.ts). So a call queued behind another
 * (another job's, a model being loaded or checked, a session reopened after its thread died) pays nothing for
 * that wait, work that never reaches the device (a pixel model's encode in JS) counts nothing, and what is not
 * measured (a load, a check, a probe) is billed to no one.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

interface Measurement {
  ms: number;
}

const current = new AsyncLocalStorage<Measurement>();

/**
 * Runs `work`, then tells `took` the device milliseconds of the inferences it made, whether it ended or threw,
 * in the same turn as it settles (no await in between: a caller's bookkeeping in `took` sees the order in
 * which calls really ended).
 */
export function measureDeviceTime<R>(work: () => Promise<R>, took: (ms: number) => void): Promise<R> {
  const measurement: Measurement = { ms: 0 };
  let running: Promise<R>;
  try {
    running = current.run(measurement, work);
  } catch (error) {
    running = Promise.reject(error);
  }
  return running.then(
    (result) => {
      took(measurement.ms);
      return result;
    },
    (error: unknown) => {
      took(measurement.ms);
      throw error;
    },
  );
}

/**
 * The measurement a call made now belongs to, if any: an inference records its time there when it is answered.
 * Called where the call is made, so that an answer read in another context is still counted to its maker.
 */
export function deviceTimeMeter(): ((ms: number) => void) | undefined {
  const measurement = current.getStore();
  if (!measurement) return undefined;
  return (ms) => {
    measurement.ms += ms;
  };
}

/** Adds `ms` to the measurement now running, if any: a device that is not an onnxruntime session (a stub). */
export function addDeviceTime(ms: number): void {
  deviceTimeMeter()?.(ms);
}
