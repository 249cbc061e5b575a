/** The migrated database each test file clones (prepared by test/run.ts). */
export const TEMPLATE_DATABASE = 'keyhold_template';

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
