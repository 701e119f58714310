import { API_OPTIONS, API_SYNOPSIS, clientOf } from '../api.ts';
import type { Command } from '../command.ts';
import { usageError } from '../errors.ts';
import { table } from '../format.ts';
import { print, printJson } from '../output.ts';

/** `obelm models`: the models the caller may use (GET /v1/models), with their limits and defaults. */
export const modelsCommand: Command = {
  name: 'models',
  synopsis: `[--json] ${API_SYNOPSIS}`,
  summary: 'the models jobs can use: image size, steps and guidance limits, defaults',
  options: { json: { type: 'boolean' }, ...API_OPTIONS },
  run: async (values, positionals) => {
    if (positionals.length) throw usageError(`models takes no arguments: models ${modelsCommand.synopsis}`);
    const { models } = await (await clientOf(values)).models();
    if (values['json']) return printJson(models);
    const rows = models.map((m) => [
      m.id,
      m.kind,
      `${m.imageSize[0]}x${m.imageSize[1]}`,
      `${m.limits.minSteps}-${m.limits.maxSteps}`,
      String(m.defaults.steps),
      `0-${m.limits.maxGuidance}`,
      String(m.defaults.guidance),
      m.description ?? '',
    ]);
    print(table([['ID', 'KIND', 'SIZE', 'STEPS', 'DEFAULT', 'GUIDANCE', 'DEFAULT', 'DESCRIPTION'], ...rows]));
  },
};
