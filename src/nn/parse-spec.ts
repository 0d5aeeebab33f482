import { z } from 'zod';
import { ModelSpecError } from '../errors/index.ts';
import { readSmallTextFile } from '../io/bounded-read.ts';
import { MODULE_KINDS } from '../vocabulary.ts';
import { graphSpecSchema, layerNodeSchema, MAX_NODES, mergeNodeSchema, sequentialSpecSchema, type ModelSpec } from './spec.ts';

/** Turns zod's issues into one message that names the JSON path, e.g. `layers[2].kernel_size`. */
function describeIssues(error: z.ZodError, raw: unknown): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
      let message = issue.message;
      // A bad `type` makes zod say "Invalid input"; say which types exist instead.
      if (issue.path.at(-1) === 'type' && (issue.path[0] === 'layers' || issue.path[0] === 'graph')) {
        let node: unknown = raw;
        for (const key of issue.path.slice(0, -1)) node = (node as Record<string | number, unknown> | undefined)?.[key as string];
        const got = (node as { type?: unknown } | undefined)?.type;
        message = `unknown layer type ${JSON.stringify(got)}; supported: ${MODULE_KINDS.join(', ')}`;
      }
      return `${path || '(root)'}: ${message}`;
    })
    .join('; ');
}

/** Validates an already-parsed JSON value as a model spec. */
export function parseModelSpec(raw: unknown, label = 'model spec'): ModelSpec {
  // The form is chosen by its key, so errors speak about that form rather than a failed union.
  const isGraph = typeof raw === 'object' && raw !== null && 'graph' in raw;
  if (isGraph) checkNodesOneByOne(raw, label);
  const result = (isGraph ? graphSpecSchema : sequentialSpecSchema).safeParse(raw);
  if (!result.success) throw new ModelSpecError(`${label}: ${describeIssues(result.error, raw)}`);
  return result.data;
}

/**
 * A graph node is a layer node or a merge node; zod's union would only say "Invalid input", so
 * each node is checked against its own form first, for messages that name the bad attribute.
 */
function checkNodesOneByOne(raw: unknown, label: string): void {
  const nodes = (raw as { graph?: { nodes?: unknown } }).graph?.nodes;
  // Too many nodes: the schema refuses the count, with no need to look at each one.
  if (!Array.isArray(nodes) || nodes.length > MAX_NODES) return;
  nodes.forEach((node, i) => {
    const schema = typeof node === 'object' && node !== null && 'layer' in node ? layerNodeSchema : mergeNodeSchema;
    const r = schema.safeParse(node);
    if (!r.success) {
      const prefixed = new z.ZodError(r.error.issues.map((issue) => ({ ...issue, path: ['graph', 'nodes', i, ...issue.path] })));
      throw new ModelSpecError(`${label}: ${describeIssues(prefixed, raw)}`);
    }
  });
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

/** A model.json larger than this is not a model description (the largest real ones are kilobytes). */
export const MAX_SPEC_BYTES = 16 * 2 ** 20;

export async function readModelSpec(path: string): Promise<ModelSpec> {
  // Regular files only, size-capped: a link to /dev/zero would otherwise be read forever.
  const text = await readSmallTextFile(path, MAX_SPEC_BYTES, (message) => new ModelSpecError(message));
  return parseModelSpecText(text, path);
}
