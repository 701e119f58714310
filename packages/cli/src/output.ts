/** What a command prints: results on stdout (for pipes), notes on stderr. */
export const print = (text: string): void => {
  process.stdout.write(`${text}\n`);
};

export const note = (text: string): void => {
  process.stderr.write(`obelm: ${text}\n`);
};

export const printJson = (value: unknown): void => print(JSON.stringify(value, null, 2));
