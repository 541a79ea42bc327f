import Mocha from 'mocha';
import { join } from 'node:path';
import { readdirSync } from 'node:fs';
import { format } from 'node:util';

// The remote extension host forwards console lines without applying format strings; format them
// here and tag them so the launcher prints just the test report.
Mocha.reporters.Base.consoleLog = (...args: unknown[]) => console.log(`[corpus-lab-test] ${format(...args)}`);

// Entry that VS Code's extension host calls with the test path: runs every *.test.js here.
export function run(): Promise<void> {
  // CORPUS_LAB_TEST_GREP runs only the tests whose titles match it.
  const mocha = new Mocha({
    ui: 'bdd',
    timeout: 180_000,
    color: false,
    reporter: 'spec',
    grep: process.env.CORPUS_LAB_TEST_GREP || undefined,
  });
  // In name order (a directory lists in no particular order): later files may rely on the models earlier ones trained.
  for (const f of readdirSync(__dirname).sort()) if (f.endsWith('.test.js')) mocha.addFile(join(__dirname, f));
  return new Promise((resolve, reject) => {
    mocha.run((failures) => {
      if (failures > 0) reject(new Error(`${failures} integration test(s) failed`));
      else resolve();
    });
  });
}
