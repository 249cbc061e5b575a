import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { chooseLocale, DEFAULT_LOCALE, LOCALES, MESSAGES, placeholders, translate } from '../../src/pages/i18n.ts';

const english = MESSAGES[DEFAULT_LOCALE];
const englishKeys = Object.keys(english);
const names = (message: string) => [...new Set(placeholders(message))].sort();

t.test('every locale has exactly English’s keys', async (t) => {
  for (const locale of LOCALES) {
    const keys = Object.keys(MESSAGES[locale]);
    // Named, so a translator sees what to add or remove rather than a count.
    t.same(
      { missing: englishKeys.filter((key) => !keys.includes(key)), extra: keys.filter((key) => !englishKeys.includes(key)) },
      { missing: [], extra: [] },
      `${locale}.json`,
    );
  }
});

t.test('every message names exactly the placeholders its English message names', async (t) => {
  for (const locale of LOCALES) {
    for (const [key, message] of Object.entries(MESSAGES[locale])) {
      if (!(key in english)) continue; // reported by the keys test
      t.same(names(message), names(english[key]!), `${locale}: ${key}`);
    }
  }
});

t.test('no message is empty or left as its key', async (t) => {
  for (const locale of LOCALES) {
    for (const [key, message] of Object.entries(MESSAGES[locale])) {
      t.ok(typeof message === 'string' && message.trim() !== '' && message !== key, `${locale}: ${key} is ${JSON.stringify(message)}`);
    }
  }
});

t.test('translate fills placeholders in the chosen language', async (t) => {
  t.equal(translate('en', 'signin.done.body', { user: 'ada', app: 'Wiki' }), 'You are signed in as ada. Continue in Wiki.');
  t.equal(translate('de', 'signin.done.body', { user: 'ada', app: 'Wiki' }), 'Sie sind als ada angemeldet. Fahren Sie in Wiki fort.');
  t.equal(translate('fr', 'signin.too_many.body', { seconds: 30 }), 'Trop de tentatives de connexion proviennent de votre réseau. Patientez 30 secondes, puis réessayez.');
  t.equal(translate('fr', 'signout.question', { brand: 'Keyhold' }), 'Voulez-vous vous déconnecter de Keyhold\u202f?');
  t.equal(translate('en', 'page.title', { title: 'Sign in', brand: 'Keyhold' }), 'Sign in · Keyhold');
  // A placeholder without a value stays visible rather than vanishing from the sentence.
  t.equal(translate('en', 'page.back'), 'Back to {app}');
  t.equal(translate('fr', 'no.such.key'), 'no.such.key', 'a key no language has is shown as itself');
});

t.test('a key missing in a locale falls back to English', async (t) => {
  // MESSAGES is frozen and read at import: load an unchanged copy of i18n.ts next to a fr.json that lacks a key.
  const dir = mkdtempSync(join(tmpdir(), 'keyhold-i18n-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const source = join(import.meta.dirname, '..', '..', 'src', 'pages');
  cpSync(join(source, 'i18n.ts'), join(dir, 'i18n.ts'));
  cpSync(join(source, 'messages'), join(dir, 'messages'), { recursive: true });
  const fr = JSON.parse(readFileSync(join(dir, 'messages', 'fr.json'), 'utf8')) as Record<string, string>;
  delete fr['signin.wrong'];
  writeFileSync(join(dir, 'messages', 'fr.json'), JSON.stringify(fr));
  const copy = (await import(join(dir, 'i18n.ts'))) as typeof import('../../src/pages/i18n.ts');
  t.equal(copy.translate('fr', 'signin.wrong'), 'Incorrect username or password.');
  t.equal(copy.translate('fr', 'signin.password'), 'Mot de passe', 'the keys it has are still French');
});

t.test('chooseLocale: ui_locales, then Accept-Language, else English', async (t) => {
  t.equal(chooseLocale('fr', 'de'), 'fr', 'ui_locales wins over Accept-Language');
  t.equal(chooseLocale('es fr', 'de'), 'fr', 'the first supported of ui_locales');
  t.equal(chooseLocale('fr-CA', undefined), 'fr', 'a region picks its language');
  t.equal(chooseLocale('FR', undefined), 'fr', 'tags are case-insensitive');
  t.equal(chooseLocale('es', 'de'), 'de', 'unsupported ui_locales fall through to Accept-Language');
  t.equal(chooseLocale(undefined, 'de-DE,de;q=0.9,en;q=0.8'), 'de');
  t.equal(chooseLocale(undefined, 'fr;q=0, de'), 'de', 'q=0 means not acceptable');
  t.equal(chooseLocale(undefined, 'fr;q=0, es'), 'en', 'even when nothing else is supported');
  t.equal(chooseLocale(undefined, '*'), 'en', '* is no language');
  t.equal(chooseLocale(undefined, '*, de;q=0.5'), 'de', '* is skipped, not taken as the default');
  t.equal(chooseLocale('es it', 'ja, pt-BR;q=0.8'), 'en', 'nothing supported');
  t.equal(chooseLocale(undefined, undefined), 'en');
  t.equal(chooseLocale(undefined, 'en;q=0.5, fr;q=0.8'), 'fr', 'weights order, not position');
  t.equal(chooseLocale(undefined, 'de;q=0.8, fr;q=0.8'), 'de', 'equal weights keep their order');
  t.equal(chooseLocale(undefined, 'de;Q=0.1, fr;q=0.9'), 'fr', 'the weight\'s name is case-insensitive');
  t.equal(chooseLocale(undefined, 'de;Q=0, fr;q=0.1'), 'fr', 'Q=0 means not acceptable too');
  t.equal(chooseLocale(undefined, 'de; q = 0.1, fr; q=0.9'), 'fr', 'spaces around the weight');
  for (const uiLocales of [['fr'], 42, { fr: true }, null]) {
    t.equal(chooseLocale(uiLocales, 'de'), 'de', `ui_locales ${JSON.stringify(uiLocales)} is ignored`);
  }
});
