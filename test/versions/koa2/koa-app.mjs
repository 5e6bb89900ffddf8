// ESM koa app (started with --import apm/start): `import Koa` must reach apm's ESM hook.
import Koa from 'koa'
import Router from '@koa/router'
import KoaRouter from 'koa-router'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
// This folder is its own package: 'apm' resolves from the repository root (the same module --import started).
const agent = createRequire(new URL('../../../package.json', import.meta.url))('apm')
const { build, listen } = require('../../fixtures/koa-routes.cjs')
listen(build({ Koa, Router, KoaRouter }, agent, { explicit: process.env.APM_TEST_EXPLICIT === '1' }))
