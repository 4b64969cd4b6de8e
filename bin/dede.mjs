#!/usr/bin/env node
// Runs the TypeScript CLI directly (tsx), so `npx dede …` works right after `npm ci`.
import { fileURLToPath } from 'node:url';
import { tsImport } from 'tsx/esm/api';

const { main } = await tsImport(fileURLToPath(new URL('../src/cli/main.ts', import.meta.url)), import.meta.url);
process.exitCode = await main(process.argv.slice(2));
