#!/usr/bin/env node
// Launcher for the `pushlab` command: registers tsx's ESM loader, then imports the TypeScript entry
// point, so `npx pushlab` works from a checkout without a build step.
import { register } from 'tsx/esm/api';

register();
const { runFromProcess } = await import('../src/cli/main.ts');
await runFromProcess(process.argv.slice(2));
