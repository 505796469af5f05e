/**
 * Writes the operator docs derived from the settings classes: .env.example
 * and the README's configuration tables. `npm run settings:docs`; the
 * settings-documented spec fails while they are stale.
 */
import 'reflect-metadata';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import '@app/gateway'; // loads every lib's settings class
import { renderEnvExample, withSettingsTables } from '@app/settings';

const root = join(__dirname, '..');
writeFileSync(join(root, '.env.example'), renderEnvExample());
const readme = join(root, 'README.md');
writeFileSync(readme, withSettingsTables(readFileSync(readme, 'utf8')));
process.stdout.write('Wrote .env.example and the README settings tables.\n');
