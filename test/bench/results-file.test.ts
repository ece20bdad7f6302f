import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { mergeResults, parseSections, readIfExists } from '../../bench/results-file'

const OLD = [
  '# fastify-db-session benchmarks',
  '',
  '- Date: old',
  '',
  '## 1. Pool micro-benchmark',
  '',
  'micro body',
  '',
  '## 2. HTTP: old title',
  '',
  'old peers body',
  '',
  '## 4. Pool sizing curve',
  '',
  'sizing body',
  '',
  '_Total benchmark time: 346 s._',
  ''
].join('\n')

t.test('parseSections drops the header and the old total-time footer', async (t) => {
  const s = parseSections(OLD)
  t.same([...s.keys()], ['1. Pool micro-benchmark', '2. HTTP: old title', '4. Pool sizing curve'])
  t.equal(s.get('4. Pool sizing curve'), 'sizing body')
  t.equal(parseSections('# only a header\n').size, 0)
  t.same([...parseSections('## 7. Empty').entries()], [['7. Empty', '']])
})

t.test('mergeResults keeps what did not run, replaces what did, in number order', async (t) => {
  const merged = mergeResults(OLD, '# header\n- Last run: now\n', [
    { title: '5. Overload', body: 'overload body\n' },
    { title: '2. HTTP: new title', body: 'new peers body' }
  ])
  t.equal(merged, [
    '# header',
    '- Last run: now',
    '',
    '## 1. Pool micro-benchmark\n\nmicro body\n',
    '## 2. HTTP: new title\n\nnew peers body\n',
    '## 4. Pool sizing curve\n\nsizing body\n',
    '## 5. Overload\n\noverload body\n'
  ].join('\n'))
  t.notMatch(merged, /old peers body|Total benchmark time/)
  t.equal(mergeResults(null, '# h', [{ title: 'Unnumbered', body: 'x' }, { title: '3. Three', body: 'y' }]), '# h\n\n## 3. Three\n\ny\n\n## Unnumbered\n\nx\n')
})

t.test('readIfExists', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'results-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  t.equal(readIfExists(path.join(dir, 'missing.md')), null)
  fs.writeFileSync(path.join(dir, 'r.md'), 'text')
  t.equal(readIfExists(path.join(dir, 'r.md')), 'text')
})
