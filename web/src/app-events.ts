/**
 * What one view tells the others: a list changed, or the user picked something to look at. Views subscribe
 * instead of calling each other, so each stays in its own file.
 */
export interface AppEventMap {
  'datasets-changed': undefined;
  'jobs-changed': undefined;
  'models-changed': undefined;
  'dataset-selected': string;
  'job-selected': string;
  'model-selected': string;
}

const target = new EventTarget();

export function emit<K extends keyof AppEventMap>(
  name: K,
  ...detail: AppEventMap[K] extends undefined ? [] : [AppEventMap[K]]
): void {
  target.dispatchEvent(new CustomEvent(name, { detail: detail[0] }));
}

export function on<K extends keyof AppEventMap>(name: K, listener: (detail: AppEventMap[K]) => void): void {
  target.addEventListener(name, (event) => listener((event as CustomEvent<AppEventMap[K]>).detail));
}
