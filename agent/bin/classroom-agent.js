#!/usr/bin/env node
// Thin launcher: the compiled entry point lives in dist/ (built by `npm install` via `tsc -b`).
import('../dist/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/main.js')) {
    console.error(
      'This package is not built yet. Run `npm run build` (or `npm install`) at the repository root.',
    );
  } else {
    console.error(err);
  }
  process.exit(1);
});
