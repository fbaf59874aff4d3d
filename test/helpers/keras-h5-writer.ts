import h5wasm from 'h5wasm/node';
import type { Group } from 'h5wasm/node';

/**
 * Writes an .h5 in the layout Keras' legacy saver produces (save_weights_to_hdf5_group in
 * keras/src/legacy/saving/legacy_h5_format.py), which is how the keras.applications weights files are laid
 * out: attrs `layer_names`, `backend`, `keras_version`; one group per layer, weightless layers included
 * (with an empty `weight_names`); each weight at `<layer>/<layer>/<weight>:0`, listed in the layer
 * group's `weight_names` as `<layer>/<weight>:0`.
 */

export interface KerasWeightSpec {
  /** Short name: kernel, bias, gamma, mean, count… */
  name: string;
  shape: number[];
  values: ArrayLike<number>;
  /** Keras stores Normalization's count as int64. Default float32. */
  dtype?: 'float32' | 'int64';
}

export interface KerasLayerSpec {
  layerName: string;
  weights: KerasWeightSpec[];
}

export interface KerasH5WriteOptions {
  /** Nest the weights under `model_weights/` as a full-model save (model.save('x.h5')) does. */
  nested?: boolean;
  /** h5py writes name lists as fixed-length byte strings; 'variable' writes variable-length UTF-8 ones. */
  strings?: 'fixed' | 'variable';
  kerasVersion?: string;
}

function writeStringList(group: Group, name: string, values: string[], strings: 'fixed' | 'variable'): void {
  if (values.length === 0) {
    // What h5py stores for `attrs[name] = []`: an empty float64 array.
    group.create_attribute(name, new Float64Array(0), [0], '<d');
  } else if (strings === 'fixed') {
    const width = Math.max(...values.map((v) => Buffer.byteLength(v)));
    group.create_attribute(name, values, [values.length], `A${width}`);
  } else {
    group.create_attribute(name, values, [values.length]);
  }
}

function writeScalarString(group: Group, name: string, value: string, strings: 'fixed' | 'variable'): void {
  group.create_attribute(name, value, null, strings === 'fixed' ? `A${Buffer.byteLength(value)}` : null);
}

export async function writeKerasH5(
  filePath: string,
  layers: KerasLayerSpec[],
  options: KerasH5WriteOptions = {},
): Promise<void> {
  await h5wasm.ready;
  const strings = options.strings ?? 'fixed';
  const kerasVersion = options.kerasVersion ?? '2.4.0';
  const file = new h5wasm.File(filePath, 'w');
  try {
    let root: Group = file;
    if (options.nested) {
      writeScalarString(file, 'keras_version', kerasVersion, strings);
      writeScalarString(file, 'backend', 'tensorflow', strings);
      writeScalarString(file, 'model_config', JSON.stringify({ class_name: 'Functional', config: {} }), strings);
      root = file.create_group('model_weights');
    }
    writeStringList(
      root,
      'layer_names',
      layers.map((l) => l.layerName),
      strings,
    );
    writeScalarString(root, 'backend', 'tensorflow', strings);
    writeScalarString(root, 'keras_version', kerasVersion, strings);
    for (const layer of layers) {
      const group = root.create_group(layer.layerName);
      writeStringList(
        group,
        'weight_names',
        layer.weights.map((w) => `${layer.layerName}/${w.name}:0`),
        strings,
      );
      if (layer.weights.length === 0) continue;
      const inner = group.create_group(layer.layerName);
      for (const weight of layer.weights) {
        const int64 = weight.dtype === 'int64';
        inner.create_dataset({
          name: `${weight.name}:0`,
          data: int64
            ? BigInt64Array.from(Array.from(weight.values), (v) => BigInt(v))
            : Float32Array.from(weight.values),
          shape: weight.shape,
          dtype: int64 ? '<q' : '<f',
        });
      }
    }
  } finally {
    file.close();
  }
}
