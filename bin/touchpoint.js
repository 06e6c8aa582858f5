#!/usr/bin/env node
// The CLI runs the TypeScript sources through tsx, so there is no build step to forget.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv.slice(2));
// Everything is closed in order by now; exit explicitly because Agenda 6 leaves a timer armed for
// the next job after stop/drain, which would keep a stopped `serve` alive until it fires.
process.exit(code);
