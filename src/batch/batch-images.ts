import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { compareCodePoints, hasImageExtension, isJunkName, scanDatasetDirectory } from '../data/dataset-directory.js';

/** One input of a batch job, in the order its row is written. */
export interface BatchImage {
  /** Relative to the input root, with `/` separators: what the manifest names. */
  path: string;
  /** Absolute path to read. */
  file: string;
  /** Its class folder's name; null for images that are not in class folders. */
  class: string | null;
}

const maxDepth = 64;

/**
 * The images of a batch job's input folder, in a stable order. A folder of class folders (a dataset, or an
 * archive laid out like one, `train/` + `val/` included) is read as training reads it, so every image keeps
 * its class. A folder holding images itself (or through one wrapping folder) is unlabelled: every image below
 * it, in code point order of the path, with class null. Junk, links and other file types are left out.
 */
export async function listBatchImages(root: string): Promise<BatchImage[]> {
  const absRoot = path.resolve(root);
  if (await holdsLooseImages(absRoot)) return walkUnlabelled(absRoot);
  const scanned = await scanDatasetDirectory(absRoot);
  return [...scanned.train, ...(scanned.val ?? [])].map((image) => ({
    path: path.relative(absRoot, image.path).split(path.sep).join('/'),
    file: image.path,
    class: scanned.classes[image.label]!,
  }));
}

async function entries(dir: string): Promise<Dirent[]> {
  return (await readdir(dir, { withFileTypes: true })).filter((e) => !isJunkName(e.name));
}

/** Images directly in the root, or in the root's only folder when the root holds nothing else. */
async function holdsLooseImages(root: string): Promise<boolean> {
  const top = await entries(root);
  if (top.some((e) => e.isFile() && hasImageExtension(e.name))) return true;
  const dirs = top.filter((e) => e.isDirectory());
  if (dirs.length !== 1 || top.some((e) => e.isFile())) return false;
  const inner = await entries(path.join(root, dirs[0]!.name));
  return inner.some((e) => e.isFile() && hasImageExtension(e.name));
}

async function walkUnlabelled(root: string): Promise<BatchImage[]> {
  const found: BatchImage[] = [];
  const visit = async (rel: string, depth: number): Promise<void> => {
    if (depth > maxDepth) return;
    for (const entry of await entries(rel ? path.join(root, rel) : root)) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      // Symbolic links are never followed, as in datasets (an archive cannot hold them anyway).
      if (entry.isDirectory()) await visit(child, depth + 1);
      else if (entry.isFile() && hasImageExtension(entry.name)) {
        found.push({ path: child, file: path.join(root, ...child.split('/')), class: null });
      }
    }
  };
  await visit('', 0);
  return found.sort((a, b) => compareCodePoints(a.path, b.path));
}
