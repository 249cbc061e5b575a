import { readFileSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { ConfigError } from '../config.ts';

/** What the pages end users see show of the product: its name, a logo, an accent colour. */
export interface Brand {
  readonly name: string;
  /** `#rrggbb`: buttons, links, focus rings. */
  readonly accent: string;
  /** Black or white, whichever reads better on the accent (WCAG contrast). */
  readonly onAccent: string;
  readonly logo: { readonly body: Buffer; readonly type: string } | undefined;
}

export const DEFAULT_BRAND = { name: 'Keyhold', accent: '#3b5bdb' } as const;

const LOGO_TYPES: Record<string, string> = {
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
};
const MAX_LOGO_BYTES = 512 * 1024;

/** The relative luminance of an sRGB colour (WCAG 2.x). */
function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

const contrast = (a: number, b: number) => (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);

/** `#abc` as `#aabbcc`. */
export const longHex = (hex: string) => (hex.length === 4 ? `#${[...hex.slice(1)].map((c) => c + c).join('')}` : hex).toLowerCase();

/**
 * The brand from the configuration; the logo file is read once, here, so a missing or unsuitable file
 * stops Keyhold at start with a line saying why, not at the first page.
 */
export function loadBrand(config: { name?: string | undefined; accent?: string | undefined; logoFile?: string | undefined }): Brand {
  const accent = longHex(config.accent ?? DEFAULT_BRAND.accent);
  const l = luminance(accent);
  const onAccent = contrast(l, 1) >= contrast(l, 0) ? '#ffffff' : '#000000';
  let logo: Brand['logo'];
  if (config.logoFile) {
    const type = LOGO_TYPES[extname(config.logoFile).toLowerCase()];
    if (!type) throw new ConfigError([`BRAND_LOGO: must be an .svg, .png, .jpg, .webp or .gif file (${config.logoFile})`]);
    let size: number;
    try {
      size = statSync(config.logoFile).size;
    } catch {
      throw new ConfigError([`BRAND_LOGO: cannot read ${config.logoFile}`]);
    }
    if (size > MAX_LOGO_BYTES) throw new ConfigError([`BRAND_LOGO: must be at most 512 KiB (${config.logoFile} is ${Math.ceil(size / 1024)} KiB)`]);
    const body = readFileSync(config.logoFile);
    logo = { body, type };
  }
  return Object.freeze({ name: config.name ?? DEFAULT_BRAND.name, accent, onAccent, logo });
}
