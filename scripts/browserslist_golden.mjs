// Writes tests/data/browserslist/golden.json: what the real browserslist answers to each query
// of tests/data/browserslist/queries.txt, for tests/browser/test_browserslist.py to compare with
// consent.browser.browserslist.
//
//   node scripts/browserslist_golden.mjs [--output FILE]
//
// browserslist and caniuse-lite come from tools/frontend/node_modules (npm ci --prefix
// tools/frontend), the same pins scripts/update_browser_data.py reads. `last N years` counts
// back from Date.now(), so the clock is fixed at NOW before browserslist runs, and NOW is
// recorded in the file for the test to pass on. A query browserslist rejects is recorded with
// its error message instead of a result.
//
// queries.txt: one query per line, `#` starts a comment line, blank lines are skipped.

import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..')
const FRONTEND = join(REPO, 'tools', 'frontend')
const QUERIES = join(REPO, 'tests', 'data', 'browserslist', 'queries.txt')
const NOW = '2026-12-01T00:00:00.000Z'

const flag = process.argv.indexOf('--output')
const output =
  flag === -1 ? join(REPO, 'tests', 'data', 'browserslist', 'golden.json') : process.argv[flag + 1]

const fixedNow = Date.parse(NOW)
Date.now = () => fixedNow
process.env.BROWSERSLIST_IGNORE_OLD_DATA = '1'

const local = createRequire(join(FRONTEND, 'package.json'))
const browserslist = local('browserslist')
const caniuse = local('caniuse-lite/package.json')
const own = createRequire(local.resolve('browserslist')).resolve('caniuse-lite/package.json')
if (own !== local.resolve('caniuse-lite/package.json')) {
  throw new Error('browserslist resolves another caniuse-lite than tools/frontend pins: ' + own)
}

const queries = readFileSync(QUERIES, 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'))

const answers = queries.map((query) => {
  try {
    return { query, result: browserslist(query) }
  } catch (error) {
    if (!error.browserslist) throw error
    return { query, error: error.message }
  }
})

const document = {
  browserslist: local('browserslist/package.json').version,
  caniuse_lite: caniuse.version,
  now: NOW,
  answers,
}
// One line per answer: a change of data shows as a change of the queries it moves.
const lines = [
  '{',
  ' "browserslist":' + JSON.stringify(document.browserslist) + ',',
  ' "caniuse_lite":' + JSON.stringify(document.caniuse_lite) + ',',
  ' "now":' + JSON.stringify(document.now) + ',',
  ' "answers":[',
  answers.map((answer) => '  ' + JSON.stringify(answer)).join(',\n'),
  ' ]',
  '}',
]
writeFileSync(output, lines.join('\n') + '\n')
console.log('browserslist_golden: wrote ' + output + ' (' + answers.length + ' queries)')
