import { readFileSync } from 'node:fs';

/**
 * The 1000 ImageNet class names in the output order of Keras' with-top weights, for base models' /predict.
 *
 * `imagenet-class-index.json` beside this file is Keras' class index (`{"0": ["n01440764", "tench"], …}`),
 * the file `keras.applications.imagenet_utils.decode_predictions` downloads from
 * https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json. Our copy comes from
 * github.com/mythrandire/adversarial_tutorial (imagenet_class_index.json), checked entry by entry against a
 * second copy (github.com/winterwindwang/AdvOps), which differs only in three names it renamed by hand. Its md5
 * is not the one Keras' get_file checks (c2c37ea517e94d9795004a39431a14cb): we could not fetch the original to
 * compare bytes, so only the 1000 entries are vouched for, not the whitespace.
 *
 * Labels are Keras' names, except for the two names Keras gives two classes each ("crane": the bird 134 and
 * the machine 517; "maillot": 638 and 639): those get their WordNet id appended, "crane (n02012849)", so every
 * label names exactly one output.
 */
export const imagenetClassCount = 1000;

type ClassIndex = Record<string, [wordnetId: string, name: string]>;

let cached: string[] | undefined;

export function imagenetClassNames(): string[] {
  cached ??= labelsOf(
    JSON.parse(readFileSync(new URL('./imagenet-class-index.json', import.meta.url), 'utf8')) as ClassIndex,
  );
  return cached;
}

function labelsOf(index: ClassIndex): string[] {
  const entries = Array.from({ length: imagenetClassCount }, (_, i) => {
    const entry = index[String(i)];
    if (!entry) throw new Error(`imagenet-class-index.json has no class ${i}`);
    return entry;
  });
  const uses = new Map<string, number>();
  for (const [, name] of entries) uses.set(name, (uses.get(name) ?? 0) + 1);
  return entries.map(([wordnetId, name]) => (uses.get(name)! > 1 ? `${name} (${wordnetId})` : name));
}
