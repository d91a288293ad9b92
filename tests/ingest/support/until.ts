/** Waits until `check` holds, polling; fails naming `what` after `timeoutMs` (a condition that never comes). */
export async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000, pollMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
