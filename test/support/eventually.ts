/** Retries an assertion until it passes or the timeout elapses (for state written just after an observable event). */
export async function eventually<T>(fn: () => Promise<T> | T, timeoutMs = 10_000, stepMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, stepMs));
    }
  }
}
