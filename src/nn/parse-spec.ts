import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ModelSpecError } from '../errors/index.ts';
import { MODULE_KINDS } from '../vocabulary.ts';
import { modelSpecSchema, type ModelSpec } from './spec.ts';

/** Turns zod's issues into one message that names the JSON path, e.g. `layers[2].kernel_size`. */
function describeIssues(error: z.ZodError, raw: unknown): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
      let message = issue.message;
      // A bad `type` makes zod say "Invalid input"; say which types exist instead.
      if (issue.path.at(-1) === 'type' && issue.path[0] === 'layers') {
        const layers = (raw as { layers?: { type?: unknown }[] }).layers;
        const got = layers?.[issue.path[1] as number]?.type;
        message = `unknown layer type ${JSON.stringify(got)}; supported: ${MODULE_KINDS.join(', ')}`;
      }
      return `${path || '(root)'}: ${message}`;
    })
    .join('; ');
}

/** Validates an already-parsed JSON value as a model spec. */
export function parseModelSpec(raw: unknown, label = 'model spec'): ModelSpec {
  const result = modelSpecSchema.safeParse(raw);
  if (!result.success) throw new ModelSpecError(`${label}: ${describeIssues(result.error, raw)}`);
  return result.data;
}

export function parseModelSpecText(text: string, label = 'model spec'): ModelSpec {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ModelSpecError(`${label}: not valid JSON (${(e as Error).message})`);
  }
  return parseModelSpec(raw, label);
}

export async function readModelSpec(path: string): Promise<ModelSpec> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new ModelSpecError(`${path}: file not found or unreadable`);
  }
  return parseModelSpecText(text, path);
}
