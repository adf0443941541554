/**
 * Runs test files in the order given, `--concurrency` at a time, each in a process of its own,
 * and prints TAP. `node --test FILES` would sort the files by name (Node 20's
 * createTestFileList), so a long file could start last; run() takes them as they come.
 * Started as `node --import tsx scripts/run-files.ts`: the test processes inherit the loader.
 */
import { run } from 'node:test';
import { tap } from 'node:test/reporters';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    concurrency: { type: 'string', default: '1' },
    'file-timeout-ms': { type: 'string', default: '600000' },
  },
});
const concurrency = Number(values.concurrency);
const timeout = Number(values['file-timeout-ms']);
if (!Number.isInteger(concurrency) || concurrency < 1 || !Number.isInteger(timeout) || timeout < 1 || positionals.length === 0) {
  console.error('usage: node --import tsx scripts/run-files.ts [--concurrency N] [--file-timeout-ms MS] FILE...');
  process.exit(2);
}

// A test that times out leaves its browsers and servers behind, and its process would wait for
// them for ever: forceExit ends it once its tests are done, and the timeout kills a file that
// takes too long as a whole.
const stream = run({ files: positionals, concurrency, timeout, forceExit: true });
stream.on('test:fail', () => {
  process.exitCode = 1;
});
const report = stream.compose(tap);
report.pipe(process.stdout);
// Once every file is done: a process a killed file left behind may still hold its output pipe.
report.on('end', () => process.stdout.write('', () => process.exit()));
