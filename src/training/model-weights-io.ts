import { tf, type LayersModel } from '../compute/tf.js';
import { readNamedTensors, writeNamedTensors, type NamedTensor } from './named-weights-file.js';
import { CheckpointCorruptError } from './training-errors.js';

/**
 * Every weight of a model (trainable or not, so BN moving statistics too) and an Adam optimizer's state,
 * to and from named-weights files, bit for bit.
 */

export async function saveModelWeights(model: LayersModel, file: string): Promise<void> {
  await writeNamedTensors(
    file,
    model.weights.map((w) => ({ name: w.originalName, tensor: w.read() })),
  );
}

/** Writes the file's tensors into the model by weight name; every model weight must be there, same shape. */
export async function loadModelWeights(model: LayersModel, file: string): Promise<void> {
  const tensors = await readNamedTensors(file);
  try {
    const byName = new Map(tensors.map((t) => [t.name, t.tensor]));
    for (const weight of model.weights) {
      const tensor = byName.get(weight.originalName);
      if (!tensor) throw new CheckpointCorruptError(file, `no values for weight ${weight.originalName}`);
      if (!tf.util.arraysEqual(tensor.shape, weight.shape as number[])) {
        throw new CheckpointCorruptError(
          file,
          `weight ${weight.originalName} has shape [${tensor.shape}] in the file, [${weight.shape}] in the model`,
        );
      }
    }
    for (const weight of model.weights) weight.write(byName.get(weight.originalName)!);
  } finally {
    tf.dispose(tensors.map((t) => t.tensor));
  }
}

interface AdamInternals {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
}

/**
 * Adam's iteration count, first and second moments (getWeights()), plus its running beta powers, which
 * setWeights() would otherwise recompute as beta^(t+1) in float32 and so differ in the last bits from the
 * uninterrupted run's repeated products.
 */
export async function saveOptimizerState(optimizer: tf.Optimizer, file: string): Promise<void> {
  const weights = await optimizer.getWeights();
  const extra: NamedTensor[] = [];
  const adam = optimizer as unknown as Partial<AdamInternals>;
  if (adam.accBeta1 && adam.accBeta2) {
    extra.push({ name: '@accBeta1', tensor: adam.accBeta1 }, { name: '@accBeta2', tensor: adam.accBeta2 });
  }
  try {
    await writeNamedTensors(file, [...weights, ...extra]);
  } finally {
    // getWeights() makes a fresh scalar for the iteration count.
    weights[0]?.tensor.dispose();
  }
}

/** Restores state saved by saveOptimizerState into a fresh optimizer of the same kind and variable list. */
export async function loadOptimizerState(optimizer: tf.Optimizer, file: string): Promise<void> {
  const tensors = await readNamedTensors(file);
  const extra = tensors.filter((t) => t.name.startsWith('@'));
  const weights = tensors.filter((t) => !t.name.startsWith('@'));
  try {
    await optimizer.setWeights(weights);
    const adam = optimizer as unknown as Partial<AdamInternals>;
    for (const { name, tensor } of extra) {
      if (name === '@accBeta1') adam.accBeta1?.assign(tensor);
      if (name === '@accBeta2') adam.accBeta2?.assign(tensor);
    }
  } finally {
    // setWeights() made variables of its own from these.
    tf.dispose(tensors.map((t) => t.tensor));
  }
}
