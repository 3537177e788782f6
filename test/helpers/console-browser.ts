/**
 * The console's pages in headless chromium (playwright-core): the browser as
 * the console tests launch it, a page logged in with an operator key, and
 * axe-core run inside the page.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium, type Browser, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { CHROMIUM_PATH } from './requires.js';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** A page of the console at `baseUrl`, logged in with `key`, at `hash`; requests to other origins and page errors fail the test in `done`. */
export async function openConsole(browser: Browser, baseUrl: string, key: string, hash = ''): Promise<{ page: Page; done: () => Promise<void> }> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const foreign: string[] = [];
  const errors: string[] = [];
  page.on('request', (req) => {
    if (!req.url().startsWith(baseUrl)) foreign.push(req.url());
  });
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`${baseUrl}/console${hash}`);
  await page.getByLabel('Operator key').fill(key);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('#app').waitFor({ timeout: 10_000 });
  return {
    page,
    done: async () => {
      expect(foreign).toEqual([]);
      expect(errors).toEqual([]);
      await page.close();
    },
  };
}

/** axe-core's serious and critical violations on the page as it stands (evaluated over the DevTools protocol, so the page's CSP stays as it is). */
export async function axeSerious(page: Page): Promise<{ id: string; impact: string; nodes: number }[]> {
  await page.evaluate(AXE);
  const r = (await page.evaluate('axe.run(document).then((r) => ({ passes: r.passes.length, violations: r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length })) }))')) as {
    passes: number;
    violations: { id: string; impact: string; nodes: number }[];
  };
  // The checker ran: rules such as labels, contrast and names passed on this page.
  expect(r.passes).toBeGreaterThan(10);
  if (process.env['AXE_ALL']) process.stderr.write(`axe: ${r.passes} rules passed; violations ${JSON.stringify(r.violations)}\n`);
  return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}
