/**
 * A job's progress on stderr while the command waits for it: on a terminal, one line redrawn in place (`\r`) with
 * a bar of the sampler steps; elsewhere (a pipe, a log, CI) a plain line each time the status or the step
 * changes, so logs stay readable and short.
 */
export interface ProgressReporter {
  /** Shows the latest state (waitForJob's onProgress gives a job, which is one). */
  update(state: ProgressState): void;
  /** Ends the redrawn line, so what is printed next starts on a line of its own. */
  finish(): void;
}

/** What progress is shown of: a job (or a batch) by its id, its status and its steps (or images) done so far. */
export interface ProgressState {
  id: string;
  status: string;
  progress?: { step: number; of: number } | undefined;
}

/** Cells of the bar: short enough for an 80-column terminal with the id and the status beside it. */
const BAR_WIDTH = 30;

/** `[##########--------------------]  10/30` for a job at step 10 of 30; only the status before it has a step. */
export function progressBar(step: number, of: number, width = BAR_WIDTH): string {
  const done = of > 0 ? Math.min(width, Math.round((step / of) * width)) : 0;
  return `[${'#'.repeat(done)}${'-'.repeat(width - done)}] ${String(step).padStart(String(of).length)}/${of}`;
}

/** `job_x running 5/20`, or `job_x queued` before the first step. */
export function progressLine(job: ProgressState): string {
  const steps = job.progress ? ` ${job.progress.step}/${job.progress.of}` : '';
  return `${job.id} ${job.status}${steps}`;
}

/** A reporter writing to `stream`; `tty` picks the redrawn bar (default: whether the stream is a terminal). */
export function progressReporter(
  stream: NodeJS.WriteStream = process.stderr,
  tty = stream.isTTY === true,
): ProgressReporter {
  let drawn = false;
  let last = '';
  if (!tty) {
    return {
      update: (job) => {
        const line = progressLine(job);
        if (line !== last) stream.write(`${line}\n`);
        last = line;
      },
      finish: () => {},
    };
  }
  return {
    update: (job) => {
      const bar = job.progress
        ? progressBar(job.progress.step, job.progress.of)
        : `[${'-'.repeat(BAR_WIDTH)}]`;
      const line = `${job.id} ${bar} ${job.status}`;
      // Spaces over what a longer previous line left behind.
      stream.write(`\r${line.padEnd(last.length)}`);
      last = line;
      drawn = true;
    },
    finish: () => {
      if (drawn) stream.write('\n');
      drawn = false;
    },
  };
}
