// Browser benchmarks (not tests: they print tables and assert nothing about
// time). Run from tests/web: npx playwright test --config bench.config.mjs
import base from './playwright.config.mjs';

export default { ...base, testMatch: '*.bench.mjs', timeout: 600_000 };
