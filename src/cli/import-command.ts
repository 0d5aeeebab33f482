/** `backpack-ts import-tfjs`: a TensorFlow.js Layers model → our model.json + weights.safetensors. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Option, type Command } from 'commander';
import type { ImportedModel } from '../nn/import/tfjs-layers.ts';
import { LOSS_KINDS, REDUCTIONS, type LossKind, type Reduction } from '../vocabulary.ts';
import { log, setLogger, stderrLogger } from './log.ts';

export interface ImportTfjsOptions {
  out: string;
  loss: LossKind;
  reduction: Reduction;
}

export async function importTfjsCommand(modelJson: string, opts: ImportTfjsOptions): Promise<ImportedModel> {
  // Loaded here, not at the top: defining the commands (and --help) must not load the engine.
  const [{ writeSafetensorsFile }, { importTfjsLayersModel }] = await Promise.all([import('../io/tensor-file.ts'), import('../nn/import/tfjs-layers.ts')]);
  const imported = await importTfjsLayersModel(modelJson, { loss: { type: opts.loss, reduction: opts.reduction } });
  for (const note of imported.notes) log.warn(note);
  await mkdir(opts.out, { recursive: true });
  const specPath = path.join(opts.out, 'model.json');
  const weightsPath = path.join(opts.out, 'weights.safetensors');
  await writeFile(specPath, `${JSON.stringify(imported.spec, null, 2)}\n`);
  await writeSafetensorsFile(weightsPath, imported.weights, { source: 'tfjs-layers', model: path.basename(modelJson) });
  log.info(`wrote ${specPath} and ${weightsPath} (${imported.weights.size} tensors)`);
  return imported;
}

export function registerImportCommand(cli: Command): void {
  cli
    .command('import-tfjs')
    .description('convert a TensorFlow.js Layers model (model.json + weight shards) into model.json + weights.safetensors')
    .argument('<model-json>', 'the tfjs model.json; its weightsManifest paths are relative to it')
    .requiredOption('--out <dir>', 'output directory for model.json and weights.safetensors')
    .addOption(new Option('--loss <type>', 'the loss (a tfjs model carries none)').choices([...LOSS_KINDS]).default('CrossEntropyLoss'))
    .addOption(new Option('--reduction <r>', 'the loss reduction').choices([...REDUCTIONS]).default('mean'))
    .option('--quiet', 'no progress output')
    .action(async (modelJson: string, opts: ImportTfjsOptions & { quiet?: boolean }) => {
      setLogger(stderrLogger(Boolean(opts.quiet)));
      await importTfjsCommand(modelJson, opts);
    });
}
