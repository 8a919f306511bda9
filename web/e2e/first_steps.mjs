// The web app's first steps in Debian's chromium, driven by playwright-core (tests/e2e/test_web.py runs it):
// sign up, create an agency, add a lead through the API with the page's own token, see it in the table, find
// it with the search box.
// Usage: node first_steps.mjs BASE_URL EMAIL PASSWORD SCREENSHOT_DIR; prints one JSON line on success.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { accessToken, launch, newPage, signUpWithAgency } from "./browser.mjs";

const [base, email, password, shots] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });

const browser = await launch();
const errors = [];
try {
  const page = await newPage(browser, errors);
  await signUpWithAgency(page, base, email, password, "Green Fingers Ltd");
  await page.getByText("0 leads shown").waitFor();

  // The lead comes through /api/v1 with the session supabase-js keeps, as another tab or a script would.
  const token = await accessToken(page);
  const created = await page.request.post(`${base}/api/v1/leads`, {
    headers: { Authorization: `Bearer ${token}` },
    data: { first_name: "Ada", last_name: "Lovelace", email: "ada@example.com", company: "Engines" },
  });
  if (created.status() !== 201) throw new Error(`POST /api/v1/leads: ${created.status()} ${await created.text()}`);
  const lead = await created.json();

  await page.reload();
  const table = page.getByRole("table", { name: "Leads" });
  await table.getByRole("cell", { name: "Ada Lovelace", exact: true }).waitFor();
  await page.screenshot({ path: join(shots, "leads.png"), fullPage: true, animations: "disabled" });
  // The search box asks the server (full-text and similar names): a miss empties the table.
  await page.getByLabel("Search leads").fill("Zebedee");
  await page.getByText("0 leads shown").waitFor();
  await page.getByLabel("Search leads").fill("Lovelace");
  await table.getByRole("cell", { name: "Ada Lovelace", exact: true }).waitFor();
  await page.getByRole("button", { name: "Switch to dark theme" }).click();
  await page.screenshot({ path: join(shots, "leads-dark.png"), fullPage: true, animations: "disabled" });

  if (errors.length) throw new Error(`console errors:\n${errors.join("\n")}`);
  console.log(JSON.stringify({ lead_id: lead.id, path: new URL(page.url()).pathname }));
} finally {
  await browser.close();
}
