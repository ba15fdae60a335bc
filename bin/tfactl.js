#!/usr/bin/env node
import { availableParallelism } from 'node:os';

// argon2 hashes on libuv's thread pool, 4 threads unless told otherwise: let bulk imports use
// every core. Must be set before the pool starts, so before anything else runs.
process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, availableParallelism()));

const { runProcess } = await import('../dist/main.js');
await runProcess();
