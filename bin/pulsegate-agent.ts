#!/usr/bin/env node
// pulsegate-agent: push heartbeats to pulsegate (see --help). A thin wrapper; the
// logic lives in agent/. Needs a Node that strips TypeScript types (≥ 22.18).
import { main } from '../agent/cli.ts'

process.exit(await main(process.argv.slice(2), process.env))
