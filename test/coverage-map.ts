/**
 * tap's coverage map (package.json "tap"."coverage-map"): whatever test file runs, coverage is
 * recorded for src/ only, never for the tests, their helpers, bench/ or examples/.
 */
export default function coverageMap(): string[] {
  return ['src/**'];
}
