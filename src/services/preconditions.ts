/**
 * If-Match (RFC 9110 section 13.1.1) against a version: `*`, or a list of strong entity tags such as
 * `"3"`. Weak tags never match (strong comparison), nor does anything that is not an entity tag.
 */

/** What a change is conditional on: the If-Match header as received, or nothing. */
export interface Precondition {
  ifMatch?: string | undefined;
}

const ENTITY_TAG = /^"([\x21\x23-\x7e\x80-\xff]*)"$/;

/** The opaque tags of a list, each as written (weak ones and anything malformed included, to be refused). */
const tagsOf = (ifMatch: string) => ifMatch.split(',').map((tag) => tag.trim()).filter((tag) => tag !== '');

/** Whether a resource at `version` meets the precondition (always, without one). */
export function ifMatches({ ifMatch }: Precondition, version: number): boolean {
  if (ifMatch === undefined) return true;
  if (ifMatch.trim() === '*') return true;
  return tagsOf(ifMatch).some((tag) => ENTITY_TAG.exec(tag)?.[1] === String(version));
}

/** The versions an If-Match named, as a 412's detail says them. */
export function describeIfMatch(ifMatch: string): string {
  const versions = tagsOf(ifMatch).map((tag) => ENTITY_TAG.exec(tag)?.[1]);
  if (versions.length === 0 || versions.some((v) => v === undefined || !/^\d+$/.test(v))) return `the version you named (If-Match: ${JSON.stringify(ifMatch.slice(0, 100))})`;
  return versions.length === 1 ? `version ${versions[0]}` : `versions ${versions.join(', ')}`;
}
