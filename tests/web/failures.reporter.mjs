// Repeats, at the very end of the run, why each failed test failed: the
// list reporter prints the error first and then every screenshot and trace
// path, so a log cut to its last lines (as CI's summary is) lost the one
// line that mattered.
import { relative } from 'node:path';

const LINES = 12;

export default class FailuresAtTheEnd {
  constructor() {
    this.failed = [];
  }

  onTestEnd(test, result) {
    if (result.status === 'passed' || result.status === 'skipped') return;
    const where = `${relative(process.cwd(), test.location.file)}:${test.location.line}`;
    const errors = result.errors.map(e => {
      // Playwright colours its messages; a log wants the plain words.
      const plain = (e.message || String(e.value ?? '')).replace(/\u001b\[[0-9;]*m/g, '');
      const at = e.location ? ` (at line ${e.location.line})` : '';
      return plain.split('\n').slice(0, LINES).join('\n') + at;
    });
    this.failed.push({ title: `${where} › ${test.title}`, status: result.status, errors });
  }

  onEnd() {
    if (this.failed.length === 0) return;
    console.log(`\nWhy ${this.failed.length} test(s) failed:`);
    for (const f of this.failed) {
      console.log(`\n✘ ${f.title} [${f.status}]`);
      for (const e of f.errors) console.log(e.replace(/^/gm, '    '));
    }
  }
}
