// Two TypeScripts are installed side by side (see package.json):
//   - node_modules/.bin/tsc must be TypeScript 7 (the native compiler; npm alias @ts7/typescript);
//   - the package name `typescript` must be TypeScript 6 (npm alias to @typescript/typescript6),
//     because typescript-eslint needs a JS API and TypeScript 7 has none.
// npm links one `tsc` for both, and which one wins depends on package folder names (the wrapper's
// own dependency @typescript/old is TypeScript 6 and has a `tsc` too), so this fails loudly if the
// type check would silently run on TypeScript 6.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

const problems = [];

const windows = process.platform === 'win32';
const tscBin = path.resolve('node_modules', '.bin', windows ? 'tsc.cmd' : 'tsc');
let tscVersion = '';
try {
  tscVersion = execFileSync(tscBin, ['--version'], { encoding: 'utf8', shell: windows }).trim();
} catch (error) {
  problems.push(`cannot run ${tscBin}: ${error instanceof Error ? error.message : String(error)}`);
}
if (tscVersion && !/^Version 7\./.test(tscVersion)) {
  problems.push(`node_modules/.bin/tsc is "${tscVersion}", expected TypeScript 7 (@ts7/typescript); run npm ci`);
}

const ts = createRequire(import.meta.url)('typescript');
if (typeof ts.createSourceFile !== 'function' || !/^6\./.test(ts.version)) {
  problems.push(`the package "typescript" is ${ts.version}, expected TypeScript 6 with its JS API (@typescript/typescript6)`);
}

if (problems.length > 0) {
  for (const problem of problems) console.error(`check-typescript: ${problem}`);
  process.exit(1);
}
console.log(`tsc: ${tscVersion}; typescript API (typescript-eslint): ${ts.version}`);
