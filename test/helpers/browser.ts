import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type Browser } from 'playwright-core';
import type { Test } from 'tap';

const ROOT = join(import.meta.dirname, '..', '..');

/**
 * The Chromium the browser tests drive: `CHROMIUM_PATH` when set (e.g. `/usr/bin/chromium`, Debian's),
 * otherwise the headless build that ships in the `@sparticuz/chromium` dev dependency, unpacked once per
 * user into the temporary directory (`<tmpdir>/keyhold-chromium-<version>-<uid>/`). Nothing is installed
 * system-wide and nothing needs root. One promise per test process: the files of one process share it.
 */
let executable: Promise<{ path: string; env?: NodeJS.ProcessEnv }> | undefined;

function chromiumExecutable() {
  const fromEnv = process.env.CHROMIUM_PATH;
  executable ??= fromEnv ? Promise.resolve({ path: fromEnv }) : unpackBundledChromium();
  return executable;
}

/**
 * Unpacks the bundled Chromium (binary, its GL libraries, a font) into a directory of this user's. The
 * package itself unpacks into `os.tmpdir()`, so it runs in a child process whose TMPDIR is a fresh staging
 * directory, renamed into place when complete: test processes unpacking at the same time never see half a
 * binary, and another user's copy (the package's default `/tmp/chromium` is mode 0700) is never reused.
 */
async function unpackBundledChromium(): Promise<{ path: string; env: NodeJS.ProcessEnv }> {
  const packageDir = join(dirname(fileURLToPath(import.meta.resolve('@sparticuz/chromium'))), '..');
  const { version } = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as { version: string };
  const uid = process.getuid?.() ?? 0;
  const dir = join(tmpdir(), `keyhold-chromium-${version}-${uid}`);
  if (!existsSync(join(dir, 'chromium'))) {
    const staging = await mkdtemp(`${dir}.unpacking-`);
    try {
      await promisify(execFile)(
        process.execPath,
        ['--input-type=module', '-e', "import chromium from '@sparticuz/chromium'; await chromium.executablePath();"],
        { cwd: ROOT, env: { ...process.env, TMPDIR: staging } },
      );
      // The package's fonts.conf names /tmp/fonts; this copy's fonts are here.
      await writeFile(
        join(staging, 'fonts', 'fonts.conf'),
        `<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n  <dir>${join(dir, 'fonts')}</dir>\n  <cachedir>${join(dir, 'fonts-cache')}</cachedir>\n</fontconfig>\n`,
      );
      await rename(staging, dir);
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      // Another test process got there first: use its copy.
      if (!existsSync(join(dir, 'chromium'))) throw error;
    }
  }
  if ((await stat(dir)).uid !== uid) throw new Error(`${dir} belongs to another user; remove it or set CHROMIUM_PATH`);
  return { path: join(dir, 'chromium'), env: { ...process.env, FONTCONFIG_PATH: join(dir, 'fonts') } };
}

/**
 * Headless Chromium for one test, closed in its teardown. The background-networking flags keep it from
 * calling out of a machine whose network is closed. The same flags serve both browsers; the package's own
 * `args` are for AWS Lambda (`--single-process`, `--disable-web-security`, ...) and would hide the
 * cross-origin behaviour the tests check.
 */
export async function launchChromium(t: Test): Promise<Browser> {
  const { path, env } = await chromiumExecutable();
  const browser = await chromium.launch({
    executablePath: path,
    ...(env ? { env } : {}),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => browser.close());
  return browser;
}
