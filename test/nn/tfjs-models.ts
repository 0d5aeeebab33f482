/**
 * tfjs-layers models for the import tests: seeded weights, and saving as model.json + binary
 * shards (tfjs's file:// handler lives in tfjs-node, which we do not have, so the artifacts are
 * written here, as tfjs's own handlers lay them out).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { randn, uniform, type Rng } from '../helpers/oracle.ts';

/** Replaces every weight by seeded values; BatchNorm moving variances are positive. */
export function seedWeights(model: tf.LayersModel, rng: Rng): void {
  const values = model.weights.map((w) => {
    const shape = w.shape as number[];
    const n = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape.length > 1 ? n / shape[shape.length - 1] : 1;
    const data = w.originalName.endsWith('moving_variance') ? uniform(rng, n, 0.5, 1.5)
      : w.originalName.endsWith('gamma') ? uniform(rng, n, 0.5, 1.5)
        : randn(rng, n, w.originalName.endsWith('kernel') ? 1 / Math.sqrt(fanIn) : 0.3);
    return tf.tensor(data, shape);
  });
  model.setWeights(values);
  values.forEach((v) => v.dispose());
}

function joinWeightData(data: ArrayBuffer | ArrayBuffer[] | undefined): Uint8Array {
  const parts = (Array.isArray(data) ? data : data ? [data] : []).map((b) => new Uint8Array(b));
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}

/**
 * Saves `model` into `dir` as model.json + `shards` binary files, cut at byte offsets that do not
 * respect tensor boundaries (as tfjs cuts at its shard size). Returns the model.json path.
 */
export async function saveTfjsModel(model: tf.LayersModel, dir: string, shards = 1): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const modelJson = path.join(dir, 'model.json');
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    const bytes = joinWeightData(artifacts.weightData);
    const size = Math.ceil(bytes.length / shards / 4) * 4 + 2;
    const paths: string[] = [];
    for (let s = 0; s * size < bytes.length || s === 0; s++) {
      const file = `group1-shard${s + 1}of${shards}.bin`;
      writeFileSync(path.join(dir, file), bytes.subarray(s * size, (s + 1) * size));
      paths.push(file);
    }
    const json = {
      format: 'layers-model', generatedBy: 'TensorFlow.js tfjs-layers v4.22.0', convertedBy: null,
      modelTopology: artifacts.modelTopology, weightsManifest: [{ paths, weights: artifacts.weightSpecs }],
    };
    writeFileSync(modelJson, JSON.stringify(json));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  return modelJson;
}
