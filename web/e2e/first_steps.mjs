// The web app's first steps in Debian's chromium, driven by playwright-core (tests/e2e/test_web.py runs it):
// sign up, create an agency, add a lead through the API with the page's own token, see it in the table, find
// it with the search box.
// Usage: node first_steps.mjs BASE_URL EMAIL PASSWORD SCREENSHOT_DIR; prints one JSON line on success.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [base, email, password, shots] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
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
const errors = [];
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(20_000);
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(String(error)));

  await page.goto(`${base}/`);
  await page.getByRole("button", { name: "No account yet? Sign up" }).click();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign up", exact: true }).click();

  await page.getByLabel("Agency name").fill("Green Fingers Ltd");
  await page.getByRole("button", { name: "Create agency" }).click();
  await page.getByRole("heading", { name: "Leads" }).waitFor();
  await page.getByText("0 leads shown").waitFor();

  // The lead comes through /api/v1 with the session supabase-js keeps, as another tab or a script would.
  const token = await page.evaluate(() => {
    const key = Object.keys(localStorage).find((k) => k.startsWith("sb-") && k.endsWith("-auth-token"));
    return JSON.parse(localStorage.getItem(key)).access_token;
  });
  const created = await page.request.post(`${base}/api/v1/leads`, {
    headers: { Authorization: `Bearer ${token}` },
    data: { first_name: "Ada", last_name: "Lovelace", email: "ada@example.com", company: "Engines" },
  });
  if (created.status() !== 201) throw new Error(`POST /api/v1/leads: ${created.status()} ${await created.text()}`);
  const lead = await created.json();

  await page.reload();
  const table = page.getByRole("table", { name: "Leads" });
  await table.getByRole("cell", { name: "Ada Lovelace" }).waitFor();
  await page.screenshot({ path: join(shots, "leads.png"), fullPage: true, animations: "disabled" });
  // The search box asks the server (full-text and similar names): a miss empties the table.
  await page.getByLabel("Search leads").fill("Zebedee");
  await page.getByText("0 leads shown").waitFor();
  await page.getByLabel("Search leads").fill("Lovelace");
  await table.getByRole("cell", { name: "Ada Lovelace" }).waitFor();
  await page.getByRole("button", { name: "Switch to dark theme" }).click();
  await page.screenshot({ path: join(shots, "leads-dark.png"), fullPage: true, animations: "disabled" });

  if (errors.length) throw new Error(`console errors:\n${errors.join("\n")}`);
  console.log(JSON.stringify({ lead_id: lead.id, path: new URL(page.url()).pathname }));
} finally {
  await browser.close();
}
