// Generates static ES module bindings and their TypeScript declarations from proto/ with
// protobufjs-cli, so the wire schema stays the single source of truth.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const outDir = join(root, 'src', 'gen');
const js = join(outDir, 'pushlab.js');
const dts = join(outDir, 'pushlab.d.ts');

mkdirSync(outDir, { recursive: true });
execFileSync(bin('pbjs'), ['-t', 'static-module', '-w', 'es6', '--force-number', '--no-beautify', '-o', js, join(root, 'proto', 'pushlab.proto')], { stdio: 'inherit' });
execFileSync(bin('pbts'), ['-o', dts, js], { stdio: 'inherit' });
