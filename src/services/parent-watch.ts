/**
 * Calls `onOrphaned` once when this process's parent goes away (it is re-parented). A wrapper such as
 * `npm start` that dies without passing on its signal then still takes the service, and the private
 * redis-server it started, down with it.
 */
export function watchParent(onOrphaned: () => void, intervalMs = 1000): () => void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      onOrphaned();
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
