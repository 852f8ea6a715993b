// The system Chromium (/usr/bin/chromium, or $CHROMIUM) through playwright-core, and the
// static server for the page: never downloads a browser.

import { chromium } from 'playwright-core';
import { serve } from '../../host-js/serve.js';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];

/** Starts the server on a free port and the browser. */
export async function launch() {
  const { server, url } = await serve({ port: 0 });
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true, args: ARGS });
  return { server, url, browser };
}
