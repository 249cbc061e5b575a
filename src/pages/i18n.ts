import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The languages of the pages end users see. Messages live in plain JSON files (messages/<locale>.json),
 * one key per sentence, `{name}` for what is filled in: a translator edits them without touching code.
 * English is complete by definition; test/unit/messages.test.ts fails when another file misses a key,
 * has one English lacks, or names other placeholders.
 */
export const LOCALES = ['en', 'fr', 'de'] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = 'en';

const DIR = join(import.meta.dirname, 'messages');

export type Messages = Readonly<Record<string, string>>;

/** Every locale's messages, read once. */
export const MESSAGES: Readonly<Record<Locale, Messages>> = Object.freeze(
  Object.fromEntries(LOCALES.map((locale) => [locale, Object.freeze(JSON.parse(readFileSync(join(DIR, `${locale}.json`), 'utf8')) as Messages)])) as Record<Locale, Messages>,
);

const isLocale = (tag: string): tag is Locale => (LOCALES as readonly string[]).includes(tag);

/** The supported locale for a language tag (`fr-CA` is French), or undefined. */
function match(tag: string): Locale | undefined {
  const lower = tag.trim().toLowerCase();
  if (isLocale(lower)) return lower;
  const primary = lower.split('-')[0] ?? '';
  return isLocale(primary) ? primary : undefined;
}

/** Accept-Language as tags in order of preference (q=0 excluded; equal weights keep their order). */
function acceptLanguageTags(header: string): string[] {
  return header
    .split(',')
    .map((part, index) => {
      const [tag = '', ...params] = part.trim().split(';');
      // The weight's name is case-insensitive (RFC 9110 §12.4.2): q=0.5 and Q=0.5 alike.
      const q = params.map((p) => p.trim()).find((p) => /^q\s*=/i.test(p));
      const weight = q ? Number(q.slice(q.indexOf('=') + 1).trim()) : 1;
      return { tag: tag.trim(), weight: Number.isFinite(weight) ? weight : 0, index };
    })
    .filter((entry) => entry.tag && entry.tag !== '*' && entry.weight > 0)
    .sort((a, b) => b.weight - a.weight || a.index - b.index)
    .map((entry) => entry.tag);
}

/**
 * The page language: the first supported one of `ui_locales` (OpenID Connect: space-separated, in order
 * of preference), then of the browser's Accept-Language, else English.
 */
export function chooseLocale(uiLocales: unknown, acceptLanguage: string | undefined): Locale {
  const requested = typeof uiLocales === 'string' ? uiLocales.split(' ').filter(Boolean) : [];
  for (const tag of [...requested, ...acceptLanguageTags(acceptLanguage ?? '')]) {
    const locale = match(tag);
    if (locale) return locale;
  }
  return DEFAULT_LOCALE;
}

export type Params = Record<string, string | number>;

/** The placeholders a message names, as `{name}`. */
export const placeholders = (message: string) => [...message.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);

/** `key` in `locale` with `params` filled in; English when a translation is missing, the key when both are. */
export function translate(locale: Locale, key: string, params: Params = {}): string {
  const message = MESSAGES[locale][key] ?? MESSAGES[DEFAULT_LOCALE][key] ?? key;
  return message.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}
