import t from 'tap'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { ROOT } from './helpers/child'

t.test('the README tables (configuration, supported versions) match the code they are generated from', async (t) => {
  const result = await new Promise<{ code: number, err: string }>((resolve) => {
    execFile(process.execPath, [join(ROOT, 'scripts', 'readme.js'), '--check'], (err, _out, stderr) => resolve({ code: err === null ? 0 : 1, err: stderr }))
  })
  t.equal(result.code, 0, result.err)
})
