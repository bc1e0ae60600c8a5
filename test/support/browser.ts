// Headless Chromium for the console's end-to-end tests: Debian's package, driven by playwright-core (which downloads
// nothing). The flags keep Chromium from reaching for Google's services, which this network refuses.
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const SCREENSHOT_DIR = path.resolve("test-results", "console");

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH))
    throw new Error(`找不到 Chromium（${CHROMIUM_PATH}）。请运行 bash scripts/ensure-chromium.sh（Debian: apt-get install chromium fonts-wqy-microhei），或用 CHROMIUM_PATH 指定浏览器位置。`);
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
  });
}

/** Saves a full-page screenshot as test-results/console/<name>.png for a person to look at. */
export async function screenshot(page: Page, name: string) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}
