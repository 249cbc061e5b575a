// The types of client-rules.js (plain JavaScript the browser loads as it is), for the server's TypeScript.

export type ClientType = 'hybrid' | 'authorization-code' | 'client-credentials';
export type ClientFieldName = 'name' | 'enabled' | 'redirectUris' | 'postLogoutRedirectUris' | 'allowRefreshToken' | 'accessTokenLifetime' | 'allowedCorsOrigins' | 'roles';
export type UrlListField = 'redirectUris' | 'postLogoutRedirectUris' | 'allowedCorsOrigins';

/** A broken rule: a field-problem code, the API's message, and the code's parameter when it has one. */
export interface RuleProblem {
  code: string;
  message: string;
  limit?: number;
  canonical?: string;
}

export const CLIENT_TYPES: readonly ['hybrid', 'authorization-code', 'client-credentials'];
export const FIELDS_BY_TYPE: Readonly<Record<ClientType, readonly ClientFieldName[]>>;
export const TYPES_WITH_SECRETS: readonly ClientType[];
export const LIMITS: {
  readonly name: { readonly max: number };
  readonly accessTokenLifetime: { readonly min: number; readonly max: number; readonly default: number };
  readonly secretDescription: { readonly max: number };
  readonly urls: { readonly maxLength: number };
};
export const URL_LISTS: Readonly<Record<UrlListField, { readonly min: number; readonly max: number; readonly item: 'redirect' | 'origin' }>>;

export function quote(value: string): string;
export function isNativeUrl(url: URL): boolean;
export function redirectUriProblem(uri: string): RuleProblem | undefined;
export function corsOriginProblem(origin: string): RuleProblem | undefined;
export function urlListItemProblem(field: UrlListField, value: string, list: readonly string[]): RuleProblem | undefined;
export function loopbackMixProblems(redirectUris: readonly string[], postLogoutRedirectUris: readonly string[]): Array<RuleProblem & { path: string }>;
