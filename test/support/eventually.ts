/**
 * Waits, in real time, for something a worker or server does on its own, polling every
 * `intervalMs`. No deadline of its own: the test's timeout bounds it, so there is no timing
 * threshold to tune.
 */
export async function eventually<T>(
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  intervalMs = 50,
): Promise<T> {
  for (;;) {
    const value = await probe();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** {@link eventually} for a plain condition. */
export async function until(predicate: () => boolean | Promise<boolean>, intervalMs = 20): Promise<void> {
  await eventually(async () => (await predicate()) || undefined, intervalMs);
}
