// What the end-to-end scripts share: Debian's chromium through playwright-core, the console errors a page
// logs, the page's own access token, axe-core's serious findings, and signing up a new agency's owner.
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

export async function launch() {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    // As root chromium needs --no-sandbox; the others keep it off a network it cannot reach.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-quic",
      "--no-first-run",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** A new page whose console errors and uncaught exceptions land in `errors`. */
export async function newPage(context, errors) {
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(String(error)));
  return page;
}

/** The access token supabase-js keeps for the page, for calls a script or another tab would make. */
export async function accessToken(page) {
  return page.evaluate(() => {
    const key = Object.keys(localStorage).find((k) => k.startsWith("sb-") && k.endsWith("-auth-token"));
    return JSON.parse(localStorage.getItem(key)).access_token;
  });
}

const axePath = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

/** axe-core's serious and critical violations on the page as it is now, one line each. */
export async function axeViolations(page) {
  // Scan a settled page: a transition half-way (a toast fading behind the front one) has colours
  // no one reads, and axe would measure them. Endless animations (spinners) are not waited for.
  await page.evaluate(() =>
    Promise.all(
      document
        .getAnimations()
        .filter((a) => a.effect?.getTiming().iterations !== Infinity)
        .map((a) => a.finished.catch(() => undefined)),
    ),
  );
  await page.addScriptTag({ path: axePath });
  const violations = await page.evaluate(async () => (await window.axe.run(document)).violations);
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

export async function signUpWithAgency(page, base, email, password, agency) {
  await page.goto(`${base}/`);
  await page.getByRole("button", { name: "No account yet? Sign up" }).click();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign up", exact: true }).click();
  await page.getByLabel("Agency name").fill(agency);
  await page.getByRole("button", { name: "Create agency" }).click();
  await page.getByRole("heading", { name: "Leads" }).waitFor();
}
