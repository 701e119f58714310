#!/usr/bin/env node
// The obelm command line runs its TypeScript sources through tsx, as `npm start` does (`node --import tsx`).
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
