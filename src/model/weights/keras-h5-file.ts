import { open } from 'node:fs/promises';
import h5wasm from 'h5wasm/node';
import type { Group } from 'h5wasm/node';
import type { SourceLayer, SourceWeight } from './assign-weights-by-name.js';
import { InvalidWeightsFileError } from './weights-errors.js';

// Reads the layout Keras' legacy h5 format writes (keras/src/legacy/saving/legacy_h5_format.py,
// save_weights_to_hdf5_group): a group carrying attrs `layer_names`, `backend`, `keras_version`, one
// subgroup per layer (weightless ones too) whose `weight_names` attr lists dataset paths relative to
// it, e.g. `stem_conv/kernel:0`. Weights-only saves put this at the root; full-model saves under
// `model_weights/`. h5py stores the name lists as fixed-length byte strings; other writers use
// variable-length strings, and a weightless layer's list is an empty float array.

export interface KerasH5Contents {
  file: string;
  /** Where the layer groups live: the file root or `model_weights/`. */
  layout: 'root' | 'model_weights';
  kerasVersion?: string;
  backend?: string;
  /** In `layer_names` order, weightless layers included (with no weights). */
  layers: SourceLayer[];
  close(): void;
}

function decodeStrings(value: unknown): string[] | undefined {
  const clean = (s: string): string => s.replace(/\0+$/, '');
  if (typeof value === 'string') return [clean(value)];
  if (value instanceof Uint8Array) return [clean(new TextDecoder().decode(value))];
  if (ArrayBuffer.isView(value)) return (value as unknown as ArrayLike<unknown>).length === 0 ? [] : undefined;
  if (Array.isArray(value)) {
    const out: string[] = [];
    for (const item of value) {
      const decoded = decodeStrings(item);
      if (decoded?.length !== 1) return undefined;
      out.push(decoded[0]!);
    }
    return out;
  }
  return undefined;
}

/** Keras' load_attributes_from_hdf5_group: `name`, or `name0`, `name1`… when it was split into chunks. */
function readStringList(file: string, group: Group, name: string): string[] | undefined {
  const attrs = group.attrs;
  const chunks: string[] = [];
  if (name in attrs) chunks.push(name);
  else for (let i = 0; `${name}${i}` in attrs; i++) chunks.push(`${name}${i}`);
  if (chunks.length === 0) return undefined;
  return chunks.flatMap((chunk) => {
    const strings = decodeStrings(attrs[chunk]!.value);
    if (!strings)
      throw new InvalidWeightsFileError(file, `attribute ${chunk} of ${group.path} is not a list of strings`);
    return strings;
  });
}

function readScalarString(group: Group, name: string): string | undefined {
  if (!(name in group.attrs)) return undefined;
  return decodeStrings(group.attrs[name]!.value)?.[0];
}

function toTypedValues(file: string, path: string, value: unknown): Float32Array | Int32Array {
  if (value instanceof Float32Array || value instanceof Int32Array) return value;
  if (typeof value === 'number') return Float32Array.of(value);
  if (typeof value === 'bigint') return Int32Array.of(Number(value));
  if (value instanceof BigInt64Array || value instanceof BigUint64Array) {
    return Int32Array.from(value, (v) => Number(v));
  }
  if (value instanceof Int8Array || value instanceof Int16Array || value instanceof Uint8Array) {
    return Int32Array.from(value);
  }
  if (value instanceof Uint16Array || value instanceof Uint32Array || value instanceof Float64Array) {
    return Float32Array.from(value);
  }
  throw new InvalidWeightsFileError(file, `dataset ${path} does not hold numbers`);
}

function readLayer(file: string, root: Group, layerName: string): SourceLayer {
  const group = root.get(layerName);
  if (!(group instanceof h5wasm.Group)) {
    throw new InvalidWeightsFileError(file, `layer ${layerName} is listed in layer_names but has no group`);
  }
  const weightNames = readStringList(file, group, 'weight_names') ?? [];
  const weights = weightNames.map((weightName): SourceWeight => {
    const dataset = group.get(weightName);
    if (!(dataset instanceof h5wasm.Dataset)) {
      throw new InvalidWeightsFileError(file, `weight ${weightName} of layer ${layerName} has no dataset`);
    }
    const path = dataset.path;
    return {
      // `stem_conv/kernel:0` -> `kernel`
      name: weightName.slice(weightName.lastIndexOf('/') + 1).replace(/:\d+$/, ''),
      shape: [...(dataset.shape ?? [])],
      read: () => {
        try {
          return toTypedValues(file, path, dataset.value);
        } catch (error) {
          if (error instanceof InvalidWeightsFileError) throw error;
          throw new InvalidWeightsFileError(file, `dataset ${path} cannot be read (${String(error)})`);
        }
      },
    };
  });
  return { layerName, weights };
}

const hdf5Signature = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/** HDF5's superblock signature sits at byte 0, or at 512, 1024, 2048… when the file has a user block. */
async function hasHdf5Signature(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const probe = Buffer.alloc(hdf5Signature.length);
    for (let offset = 0; offset + probe.length <= size; offset = offset === 0 ? 512 : offset * 2) {
      await handle.read(probe, 0, probe.length, offset);
      if (probe.equals(hdf5Signature)) return true;
    }
    return false;
  } finally {
    await handle.close();
  }
}

/** Opens a Keras .h5 weights file. The caller must close() it once the weights have been read. */
export async function openKerasH5(file: string): Promise<KerasH5Contents> {
  // h5wasm does not throw on a non-HDF5 file; it hands back a dead id and prints HDF5's diagnostics.
  if (!(await hasHdf5Signature(file))) throw new InvalidWeightsFileError(file, 'no HDF5 signature');
  await h5wasm.ready;
  const h5 = new h5wasm.File(file, 'r');
  try {
    let layout: KerasH5Contents['layout'] = 'root';
    let root: Group = h5;
    let layerNames = readStringList(file, root, 'layer_names');
    if (!layerNames) {
      const nested = h5.get('model_weights');
      if (nested instanceof h5wasm.Group) {
        layout = 'model_weights';
        root = nested;
        layerNames = readStringList(file, root, 'layer_names');
      }
    }
    if (!layerNames) {
      throw new InvalidWeightsFileError(file, 'no layer_names attribute at the root or in model_weights/');
    }
    const layers = layerNames.map((name) => readLayer(file, root, name));
    return {
      file,
      layout,
      kerasVersion: readScalarString(root, 'keras_version') ?? readScalarString(h5, 'keras_version'),
      backend: readScalarString(root, 'backend') ?? readScalarString(h5, 'backend'),
      layers,
      close: () => h5.close(),
    };
  } catch (error) {
    h5.close();
    if (error instanceof InvalidWeightsFileError) throw error;
    throw new InvalidWeightsFileError(
      file,
      `unreadable HDF5 (${error instanceof Error ? error.message : String(error)})`,
    );
  }
}
