// Persistence through IndexedDB in the system Chromium (playwright-core, never a downloaded
// browser): save, load and incremental save of n `_home` entries, timed inside the page.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from '../../host-js/serve.js';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];

/** One measurement per (n, rep): `{ n, runs: [{saveMs, loadMs, incMs, incSteadyMs, check}] }` or `{ n, error }`. */
export async function idbBench(sizes, repsFor) {
  const { server, url } = await serve({ port: 0 });
  const profile = mkdtempSync(join(tmpdir(), 'lua-persist-bench-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true, args: ARGS,
  });
  const out = [];
  try {
    const page = await context.newPage();
    await page.goto(url);
    for (const n of sizes) {
      const runs = [];
      try {
        for (let r = 0; r < repsFor(n); r++) {
          runs.push(await page.evaluate(measure, { n, db: `bench-${n}-${r}` }));
        }
        out.push({ n, runs });
      } catch (e) {
        out.push({ n, error: String(e?.message ?? e).slice(0, 300) });
      }
    }
  } finally {
    await context.close();
    server.close();
    rmSync(profile, { recursive: true, force: true });
  }
  return out;
}

// Runs in the page.
async function measure({ n, db }) {
  const { LuaEngine } = await import('/host-js/lua-api.js');
  const { IdbStore } = await import('/host-js/stores/idb.js');
  const first = await LuaEngine.create({ store: new IdbStore({ name: db }), restore: false });
  first.computeSync(`local h = _home for i = 1, ${n} do h[i] = 'v' .. i end`);
  let t = performance.now();
  await first.save();
  const saveMs = performance.now() - t;
  first.computeSync("_home[5] = 'changed'");
  t = performance.now();
  await first.save();
  const incMs = performance.now() - t;
  const steady = [];
  for (let i = 0; i < 5; i++) {
    first.computeSync(`_home[${6 + i}] = 'changed'`);
    t = performance.now();
    await first.save();
    steady.push(performance.now() - t);
  }
  const incSteadyMs = steady.sort((a, b) => a - b)[2];
  first.close();
  t = performance.now();
  const second = await LuaEngine.create({ store: new IdbStore({ name: db }) });
  const loadMs = performance.now() - t;
  const check = second.computeSync(`return ext.size(_home) .. ':' .. _home[5] .. ':' .. _home[${n}]`)[0];
  second.close();
  await new Promise((resolve) => { const req = indexedDB.deleteDatabase(db); req.onsuccess = req.onerror = req.onblocked = resolve; });
  return { saveMs, loadMs, incMs, incSteadyMs, check };
}
