import type { AuditActor } from '../audit.ts';

/** Who asks a service for a change, and from where: recorded with the change, in its transaction. */
export interface AuditContext {
  actor: AuditActor;
  address?: string | null;
}

/** The one actor of CLI commands. */
export const CLI: AuditContext = { actor: { kind: 'cli' } };

/** Of two views of one thing, the fields that differ: `{ before, after }`, each holding only those. */
export function changedFields(before: Record<string, unknown>, after: Record<string, unknown>): { before: Record<string, unknown>; after: Record<string, unknown> } {
  const changed = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter(
    (key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]),
  );
  return {
    before: Object.fromEntries(changed.map((key) => [key, before[key] ?? null])),
    after: Object.fromEntries(changed.map((key) => [key, after[key] ?? null])),
  };
}
