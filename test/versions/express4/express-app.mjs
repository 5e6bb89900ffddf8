// ESM express app (started with --import apm/start): `import express` must reach apm's ESM hook.
import express from 'express'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
// This folder is its own package: 'apm' resolves from the repository root (the same module --import started).
const agent = createRequire(new URL('../../../package.json', import.meta.url))('apm')
const { build, listen } = require('../../fixtures/express-routes.cjs')
const major = Number(require('express/package.json').version.split('.')[0])
listen(build(express, agent, { major, explicit: process.env.APM_TEST_EXPLICIT === '1' }))
