/**
 * Finds the classes and image files of a dataset folder, the way Keras' `image_dataset_from_directory` does
 * (one sub-folder per class, classes in plain sorted order, files found recursively), plus two conveniences:
 * one wrapping folder (what most zips contain) and a `train/` + `val/` (or `validation/`) split layout.
 *
 * Decisions:
 * - Hidden entries (`.x`), `__MACOSX`, `Thumbs.db`, `desktop.ini` are junk at any depth (Keras would turn
 *   `.ipynb_checkpoints`-style folders inside a class into data; we don't).
 * - Symbolic links are never followed (Keras' default `follow_links=False`), and are reported.
 * - A class folder with no image files is not a class (Keras keeps it as a label that never occurs); reported.
 * - Split layout: classes come from `train/`. A class that only exists in `val/` is a DatasetError (its label
 *   could never be learned); a train class missing from `val/` is fine (it just has no validation images).
 *   A `test/` folder next to them is ignored and reported.
 * - Only the file extension is checked here; decoding is dataset-report's job.
 */
import { readdir, stat } from 'node:fs/promises';
import type { Dirent } from 'node:fs';
import path from 'node:path';
import { DatasetError } from './dataset-error.js';

/** Extensions accepted as images (case-insensitive). BMP is left out: sharp cannot decode it. */
export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.gif', '.webp', '.tif', '.tiff', '.avif'];

export interface LabeledImage {
  /** Absolute path. */
  path: string;
  /** Index into `classes`. */
  label: number;
}

export interface IgnoredPath {
  /** Relative to the scanned root, with `/` separators. */
  path: string;
  reason: string;
}

export type DatasetLayout = 'flat' | 'split';

export interface DatasetDirectory {
  /** Absolute path of the folder that was scanned. */
  root: string;
  /** Name of the single wrapping folder that was looked through, if any. */
  wrapper: string | undefined;
  classes: string[];
  layout: DatasetLayout;
  train: LabeledImage[];
  /** Split layout only: undefined when there is no val folder, [] when it has no images. */
  val: LabeledImage[] | undefined;
  ignored: IgnoredPath[];
}

const JUNK_NAMES = new Set(['__macosx', 'thumbs.db', 'desktop.ini']);
const MAX_DEPTH = 64;

/** Python's `sorted()` order for str: by Unicode code point (JS `<` compares UTF-16 units instead). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    // A surrogate half means a code point above U+FFFF, so it sorts after any BMP unit.
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

export function isJunkName(name: string): boolean {
  return name.startsWith('.') || JUNK_NAMES.has(name.toLowerCase());
}

export function hasImageExtension(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(name).toLowerCase());
}

interface Listing {
  dirs: string[];
  files: string[];
}

/** Lists one folder, reporting junk, links and special files; names are sorted in code point order. */
async function listFolder(abs: string, rel: string, ignored: IgnoredPath[]): Promise<Listing> {
  const entries: Dirent[] = await readdir(abs, { withFileTypes: true });
  const dirs: string[] = [];
  const files: string[] = [];
  for (const entry of entries) {
    const relPath = rel ? `${rel}/${entry.name}` : entry.name;
    if (isJunkName(entry.name)) {
      ignored.push({
        path: relPath,
        reason: entry.isDirectory() ? 'hidden or system folder' : 'hidden or system file',
      });
    } else if (entry.isSymbolicLink()) {
      ignored.push({ path: relPath, reason: 'symbolic link (not followed)' });
    } else if (entry.isDirectory()) {
      dirs.push(entry.name);
    } else if (entry.isFile()) {
      files.push(entry.name);
    } else {
      ignored.push({ path: relPath, reason: 'not a regular file' });
    }
  }
  dirs.sort(compareCodePoints);
  files.sort(compareCodePoints);
  return { dirs, files };
}

/** All image files below a class folder, relative to it, in Keras' walk order (folders by path, then names). */
async function collectClassFiles(classAbs: string, classRel: string, ignored: IgnoredPath[]): Promise<string[]> {
  const perFolder: Array<{ rel: string; files: string[] }> = [];
  const visit = async (sub: string, depth: number): Promise<void> => {
    const rel = sub ? `${classRel}/${sub}` : classRel;
    if (depth > MAX_DEPTH) {
      ignored.push({ path: rel, reason: 'folder nested too deeply' });
      return;
    }
    const listing = await listFolder(sub ? path.join(classAbs, sub) : classAbs, rel, ignored);
    const images: string[] = [];
    for (const file of listing.files) {
      const fileRel = sub ? `${sub}/${file}` : file;
      if (hasImageExtension(file)) images.push(fileRel);
      else ignored.push({ path: `${classRel}/${fileRel}`, reason: unsupportedTypeReason(file) });
    }
    perFolder.push({ rel: sub, files: images });
    for (const dir of listing.dirs) await visit(sub ? `${sub}/${dir}` : dir, depth + 1);
  };
  await visit('', 0);
  perFolder.sort((p, q) => compareCodePoints(p.rel, q.rel));
  return perFolder.flatMap((p) => p.files);
}

function unsupportedTypeReason(file: string): string {
  const ext = path.extname(file).toLowerCase();
  return ext ? `unsupported file type (${ext})` : 'unsupported file type (no extension)';
}

/** Class folder name -> image paths relative to the split root. Empty class folders are reported and dropped. */
async function scanClasses(
  abs: string,
  rel: string,
  ignored: IgnoredPath[],
  listing?: Listing,
): Promise<Map<string, string[]>> {
  const { dirs, files } = listing ?? (await listFolder(abs, rel, ignored));
  const join = (name: string): string => (rel ? `${rel}/${name}` : name);
  for (const file of files) ignored.push({ path: join(file), reason: 'not inside a class folder' });
  const classes = new Map<string, string[]>();
  for (const dir of dirs) {
    const found = await collectClassFiles(path.join(abs, dir), join(dir), ignored);
    if (found.length === 0) ignored.push({ path: join(dir), reason: 'empty class folder (no image files)' });
    else classes.set(dir, found);
  }
  return classes;
}

const VAL_NAMES = ['val', 'validation'];

/** `train/` plus optionally `val/`|`validation/`|`test/`, nothing else (case-insensitive). */
function splitFolders(dirs: string[]): { train: string; val?: string; test?: string } | undefined {
  const train = dirs.find((d) => d.toLowerCase() === 'train');
  if (!train) return undefined;
  const vals = dirs.filter((d) => VAL_NAMES.includes(d.toLowerCase()));
  const test = dirs.find((d) => d.toLowerCase() === 'test');
  if (dirs.length !== 1 + vals.length + (test ? 1 : 0)) return undefined;
  if (vals.length > 1) {
    throw new DatasetError(`dataset has both ${vals.map((v) => `'${v}/'`).join(' and ')}; keep only one`);
  }
  return { train, val: vals[0], test };
}

function toLabeled(abs: string, classes: Map<string, string[]>, order: Map<string, number>): LabeledImage[] {
  const out: LabeledImage[] = [];
  for (const [name, files] of classes) {
    const label = order.get(name)!;
    for (const file of files) out.push({ path: path.join(abs, name, file), label });
  }
  return out;
}

export async function scanDatasetDirectory(root: string): Promise<DatasetDirectory> {
  const absRoot = path.resolve(root);
  const rootStat = await stat(absRoot).catch(() => undefined);
  if (!rootStat?.isDirectory()) throw new DatasetError(`dataset folder not found: ${root}`);

  const ignored: IgnoredPath[] = [];
  let base = absRoot;
  let baseRel = '';
  let wrapper: string | undefined;
  let listing = await listFolder(base, baseRel, ignored);

  // One wrapping folder (e.g. "flowers/daisy/…"), unless the root already is a split layout.
  if (!splitFolders(listing.dirs) && listing.dirs.length === 1 && !listing.files.some(hasImageExtension)) {
    const inner = listing.dirs[0];
    const innerIgnored: IgnoredPath[] = [];
    const innerListing = await listFolder(path.join(base, inner), inner, innerIgnored);
    if (innerListing.dirs.length > 0) {
      for (const file of listing.files) ignored.push({ path: file, reason: 'not inside a class folder' });
      ignored.push(...innerIgnored);
      wrapper = inner;
      base = path.join(base, inner);
      baseRel = inner;
      listing = innerListing;
    }
  }

  const split = splitFolders(listing.dirs);
  const join = (name: string): string => (baseRel ? `${baseRel}/${name}` : name);
  if (!split) {
    const classes = await scanClasses(base, baseRel, ignored, listing);
    const names = [...classes.keys()];
    const order = new Map(names.map((n, i) => [n, i]));
    return {
      root: absRoot,
      wrapper,
      classes: names,
      layout: 'flat',
      train: toLabeled(base, classes, order),
      val: undefined,
      ignored,
    };
  }

  for (const file of listing.files) ignored.push({ path: join(file), reason: 'not inside a class folder' });
  if (split.test) ignored.push({ path: join(split.test), reason: 'test split is not used' });
  const trainAbs = path.join(base, split.train);
  const trainClasses = await scanClasses(trainAbs, join(split.train), ignored);
  const names = [...trainClasses.keys()];
  const order = new Map(names.map((n, i) => [n, i]));
  let val: LabeledImage[] | undefined;
  if (split.val) {
    const valAbs = path.join(base, split.val);
    const valClasses = await scanClasses(valAbs, join(split.val), ignored);
    const unknown = [...valClasses.keys()].filter((name) => !order.has(name));
    if (unknown.length > 0) {
      throw new DatasetError(
        `'${split.val}/' has class folders missing from '${split.train}/': ${unknown.map((u) => `'${u}'`).join(', ')}`,
      );
    }
    val = toLabeled(valAbs, valClasses, order);
  }
  return {
    root: absRoot,
    wrapper,
    classes: names,
    layout: 'split',
    train: toLabeled(trainAbs, trainClasses, order),
    val,
    ignored,
  };
}
