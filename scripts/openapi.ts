import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openApiText } from '../src/http/admin-api/openapi.ts';

/** Writes docs/openapi.json, the admin API's OpenAPI document, as GET /api/v1/openapi.json serves it. */
const target = fileURLToPath(new URL('../docs/openapi.json', import.meta.url));
writeFileSync(target, openApiText());
console.log(`wrote ${target}`);
