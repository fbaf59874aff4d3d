/**
 * Least-recently-used cache of loaded models, bounded by their estimated bytes rather than by a count:
 * one B7 weighs as much as a dozen B0s. The entry just added is never evicted, so a model larger than the
 * whole bound still serves (alone).
 */

interface Entry<M> {
  artifactDir: string;
  model: M;
}

export class ModelCache<M extends { bytes: number }> {
  // A Map iterates in insertion order; re-inserting on use keeps the least recently used first.
  private readonly entries = new Map<string, Entry<M>>();
  private total = 0;

  constructor(
    readonly maxBytes: number,
    private readonly disposeModel: (model: M) => void,
  ) {}

  /** The model cached for `id`, if it was loaded from `artifactDir` (a new artifact dir means a new model). */
  get(id: string, artifactDir: string): M | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    if (entry.artifactDir !== artifactDir) {
      this.delete(id);
      return undefined;
    }
    this.entries.delete(id);
    this.entries.set(id, entry);
    return entry.model;
  }

  /** The model cached for `id` and `artifactDir`, without counting it as a use or dropping a stale one. */
  peek(id: string, artifactDir: string): M | undefined {
    const entry = this.entries.get(id);
    return entry?.artifactDir === artifactDir ? entry.model : undefined;
  }

  /** Adds a model and evicts the least recently used others while over the bound; returns the evicted ids. */
  set(id: string, artifactDir: string, model: M): string[] {
    this.delete(id);
    this.entries.set(id, { artifactDir, model });
    this.total += model.bytes;
    const evicted: string[] = [];
    for (const [oldId] of this.entries) {
      if (this.total <= this.maxBytes || oldId === id) break;
      this.delete(oldId);
      evicted.push(oldId);
    }
    return evicted;
  }

  delete(id: string): boolean {
    const entry = this.entries.get(id);
    if (!entry) return false;
    this.entries.delete(id);
    this.total -= entry.model.bytes;
    this.disposeModel(entry.model);
    return true;
  }

  clear(): void {
    for (const id of [...this.entries.keys()]) this.delete(id);
  }

  /** Cached ids, least recently used first. */
  ids(): string[] {
    return [...this.entries.keys()];
  }

  get bytes(): number {
    return this.total;
  }
}
