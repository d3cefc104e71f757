/**
 * Walks an error and every error it wraps (its `cause`, an AggregateError's `errors`), breadth
 * first, each once: drivers and layers wrap the error that says what really failed.
 */
export function searchErrorChain<T>(
  err: unknown,
  /** a result to stop with, `'skip'` not to look inside this error, undefined to go on */
  visit: (error: object) => T | 'skip' | undefined,
): T | undefined {
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length > 0) {
    const current = queue.shift();
    if (typeof current !== 'object' || current === null || seen.has(current)) continue;
    seen.add(current);
    const found = visit(current);
    if (found === 'skip') continue;
    if (found !== undefined) return found;
    queue.push((current as { cause?: unknown }).cause);
    if (current instanceof AggregateError) queue.push(...(current.errors as unknown[]));
  }
  return undefined;
}
