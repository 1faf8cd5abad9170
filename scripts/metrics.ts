/** Reading the probe's Prometheus answer, for tests and benchmarks. */

/**
 * The value of the Prometheus sample `name` in `text`; undefined when absent.
 *
 * @example
 * ```ts
 * sampleOf("invite_codes_missing 3\n", "invite_codes_missing"); // 3
 * ```
 * @param text A /metrics answer.
 * @param name A sample without labels.
 */
export function sampleOf(text: string, name: string): number | undefined {
  const value = new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1];
  return value === undefined ? undefined : Number(value);
}
