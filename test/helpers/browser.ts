/** Debian's headless Chromium, when installed (scripts/test.sh installs it when it can). */
export const chromium = Bun.which("chromium") ?? Bun.which("chromium-browser");

/** Headless, and long enough in virtual time for a page's script to poll /api/swarm once. */
export const CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1100,760", "--virtual-time-budget=4000"];

/** The rows of the rollout page's node table as Chromium rendered them: [name, state] each. */
export const pageRows = (html: string): string[][] => [...html.matchAll(/<tr class="(\w+)"><td>([^<]+)<\/td>/g)].map((m) => [m[2]!, m[1]!]);
