// The registry: every instrumentation apm ships, as data. README tables and test matrices are built from it.
import type { Instrumentation } from '../lib/instrument'
import express from './express'
import http from './http'
import koa from './koa'
import pg from './pg'
import undici from './undici'

export const instrumentations: Instrumentation[] = [
  http,
  pg,
  undici,
  express,
  koa
]
