#!/usr/bin/env node
// The CLI is TypeScript like the rest; tsx compiles it on the fly (about 0.3 s).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/bin.ts');
