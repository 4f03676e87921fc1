#!/usr/bin/env node
// Entry point of the `tessera` command; the code is compiled to dist/ by `npm install`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/src/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  process.stderr.write('tessera: not built yet; run `npm install` (or `npm run build`) in the project folder\n');
  process.exit(1);
}
const { main } = await import(cli.href);
const code = await main(process.argv.slice(2));
if (process.argv[2] !== 'serve') process.exit(code);
else if (code !== 0) process.exit(code);
