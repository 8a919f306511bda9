// The leads workspace end to end in Debian's chromium (tests/e2e/test_web_leads.py runs it): sign up, make
// an agency, create leads (one through the form, the rest through the API), page, filter and sort them,
// save a view and bring it back, pick a column, tag two at once, delete one with undo and one for good,
// open a lead with the keyboard, edit it, add a note, merge its duplicate, convert it, find another with
// ⌘K; axe-core on each screen; a screenshot of each main screen, light and dark.
// Usage: node leads_flow.mjs BASE_URL EMAIL PASSWORD SCREENSHOT_DIR; prints one JSON line on success.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { accessToken, axeViolations, launch, newPage, signUpWithAgency } from "./browser.mjs";

const [base, email, password, shots] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });

const browser = await launch();
const errors = [];
const a11y = [];
const shot = (page, name) => page.screenshot({ path: join(shots, name), fullPage: true, animations: "disabled" });
const check = async (page, screen) => a11y.push(...(await axeViolations(page)).map((v) => `${screen}: ${v}`));

try {
  const page = await newPage(browser, errors);
  await signUpWithAgency(page, base, email, password, "Rose Growers");
  const token = await accessToken(page);
  const call = async (method, path, data) => {
    const response = await page.request.fetch(`${base}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}` },
      data,
    });
    if (response.status() >= 300) throw new Error(`${method} ${path}: ${response.status()} ${await response.text()}`);
    return response.status() === 204 ? null : response.json();
  };
  await call("PUT", "/api/v1/custom-fields", {
    leads: { tier: { type: "select", options: ["gold", "silver"], label: "Tier" } },
    clients: {},
  });

  // One lead through the form.
  await page.getByRole("button", { name: "New lead" }).click();
  const form = page.getByRole("dialog", { name: "New lead" });
  await form.getByLabel("First name").fill("Ada");
  await form.getByLabel("Last name").fill("Lovelace");
  await form.getByLabel("Email").fill("ada@example.com");
  await form.getByLabel("Company").fill("Engines");
  await form.getByRole("button", { name: "Add lead" }).click();
  await page.getByRole("link", { name: "Ada Lovelace" }).waitFor();

  // Sixty through the API, ten at a time (each batch newer than the last), and Ada's duplicate.
  const ids = {};
  for (let batch = 0; batch < 6; batch++) {
    const made = await Promise.all(
      Array.from({ length: 10 }, (_, i) => {
        const n = batch * 10 + i + 1;
        return call("POST", "/api/v1/leads", {
          first_name: "Rose",
          last_name: `Bush ${String(n).padStart(2, "0")}`,
          email: `rose${n}@example.com`,
          status: n % 3 === 0 ? "qualified" : "new",
          source: n % 2 ? "web" : "referral",
          score: n,
          custom_fields: { tier: n % 5 === 0 ? "gold" : "silver" },
        });
      }),
    );
    for (const lead of made) ids[lead.last_name] = lead.id;
  }
  await call("POST", "/api/v1/leads", { first_name: "Ada", last_name: "King", email: "ada@example.com" });

  // Pages: fifty, then the rest.
  await page.reload();
  const caption = (text) => page.getByText(text, { exact: true }).waitFor();
  await caption("50 leads shown (more to load)");
  await check(page, "leads");
  await shot(page, "leads-table.png");
  await page.getByRole("button", { name: "Load more" }).click();
  await caption("62 leads shown");

  // Filters: qualified, from the web, gold (15 and 45).
  await page.getByRole("button", { name: /^Status/ }).click();
  await page.getByRole("menuitemcheckbox", { name: "qualified" }).click();
  await page.keyboard.press("Escape");
  await page.getByLabel("Source").fill("web");
  await page.getByLabel("Tier").selectOption("gold");
  await caption("2 leads shown");
  const rows = page.getByRole("table", { name: "Leads" }).locator("tbody tr[data-index]");
  // Sorts: by score, highest first, then lowest first.
  await page.getByRole("button", { name: "Sort by Score" }).click();
  await rows.first().getByText("Rose Bush 45").waitFor();
  await page.getByRole("button", { name: /Sort by Score/ }).click();
  await rows.first().getByText("Rose Bush 15").waitFor();

  // A saved view comes back after a reload (it is stored on the server, not in this browser).
  await page.getByLabel("Save as view").fill("Qualified gold from the web");
  await page.getByRole("button", { name: "Save view" }).click();
  await page.getByText("View “Qualified gold from the web” saved").waitFor();
  await page.reload();
  await caption("50 leads shown (more to load)");
  await page.getByLabel("Saved view").selectOption({ label: "Qualified gold from the web" });
  await caption("2 leads shown");
  await rows.first().getByText("Rose Bush 15").waitFor();

  // The column picker.
  await page.getByRole("button", { name: "Columns" }).click();
  await page.getByRole("menuitemcheckbox", { name: "City" }).click();
  await page.keyboard.press("Escape");
  await page.getByRole("columnheader", { name: "City" }).waitFor();
  await shot(page, "leads-filtered.png");

  // Bulk: tag two at once.
  await page.getByRole("button", { name: "Clear filters" }).click();
  await caption("50 leads shown (more to load)");
  await page.getByLabel("Select Rose Bush 60").check();
  await page.getByLabel("Select Rose Bush 59").check();
  const bulk = page.getByRole("region", { name: "Bulk actions" });
  await bulk.getByLabel("Tag").fill("vip");
  await bulk.getByRole("button", { name: "Add tag" }).click();
  await page.getByText("2 leads tagged").waitFor();
  await page.getByLabel("Tags of Rose Bush 60").getByText("vip").waitFor();
  await page.getByLabel("Tagged").fill("vip");
  await page.getByRole("button", { name: "Add tag filter" }).click();
  await caption("2 leads shown");
  await page.getByRole("button", { name: "Clear filters" }).click();

  // Delete with undo: gone at once, back with Undo; then gone for good once the toast is over.
  await page.getByLabel("Select Rose Bush 58").check();
  await page.getByRole("region", { name: "Bulk actions" }).getByRole("button", { name: "Delete" }).click();
  await page.getByLabel("Select Rose Bush 58").waitFor({ state: "detached" });
  await page.getByRole("button", { name: "Undo" }).click();
  await page.getByLabel("Select Rose Bush 58").waitFor();
  await page.getByLabel("Select Rose Bush 57").check();
  await page.getByRole("region", { name: "Bulk actions" }).getByRole("button", { name: "Delete" }).click();
  await page.getByText("Lead deleted").waitFor();
  await page.getByText("Lead deleted").waitFor({ state: "detached", timeout: 15_000 });
  // The DELETE goes out when the toast closes: the server is asked until it has no such lead.
  for (let i = 0; ; i++) {
    const response = await page.request.get(`${base}/api/v1/leads/${ids["Bush 57"]}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    if (response.status() === 404) break;
    if (i > 50) throw new Error("Rose Bush 57 was not deleted");
    await page.waitForTimeout(100);
  }

  // Find a lead with the search box and open it from the keyboard.
  await page.getByLabel("Search leads").fill("Lovelace");
  await caption("1 lead shown");
  await page.locator("tbody tr[data-index]", { hasText: "Ada Lovelace" }).focus();
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Ada Lovelace", level: 1 }).waitFor();
  const leadId = new URL(page.url()).pathname.split("/").at(-1);
  await page.getByLabel("Job title").fill("Countess");
  await page.getByLabel("Tier").selectOption("gold");
  await page.getByRole("button", { name: "Save changes" }).click();
  await page.getByText("Lead saved").waitFor();

  // A note on the timeline.
  const activity = page.getByRole("form", { name: "Add an activity" });
  await activity.getByLabel("Subject").fill("Talked about roses");
  await activity.getByLabel("Details").fill("Wants a quote for forty bushes.");
  await activity.getByRole("button", { name: "Add note" }).click();
  await page.getByRole("list", { name: "Activities and changes" }).getByText("Note: Talked about roses").waitFor();

  // The duplicate, side by side, merged in.
  await page.getByRole("button", { name: "Compare and merge Ada King" }).click();
  const merge = page.getByRole("dialog", { name: "Merge a duplicate into this lead" });
  await merge.getByLabel("Keep this lead’s last name: Lovelace").waitFor();
  await check(page, "merge dialog");
  await shot(page, "lead-merge.png");
  await merge.getByRole("button", { name: "Merge into this lead" }).click();
  await page.getByText("Ada King merged into this lead").waitFor();
  await page.getByText("None found.").waitFor();

  // Convert to a client.
  await page.getByRole("button", { name: "Convert to client" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Convert", exact: true }).click();
  await page.getByText(/^Converted to a client on/).waitFor();
  await check(page, "lead");
  await shot(page, "lead.png");
  await page.getByRole("button", { name: "Switch to dark theme" }).click();
  await shot(page, "lead-dark.png");

  // ⌘K finds another lead by name (semantic and full-text search) and opens it.
  await page.keyboard.press("Control+k");
  await page.getByRole("combobox", { name: "Command menu" }).fill("Rose Bush 56");
  await page.getByRole("option", { name: /Rose Bush 56/ }).first().click();
  await page.getByRole("heading", { name: "Rose Bush 56", level: 1 }).waitFor();
  await page.keyboard.press("Control+k");
  await page.getByRole("combobox", { name: "Command menu" }).fill("go to leads");
  await page.keyboard.press("Enter");
  await caption("50 leads shown (more to load)");
  await check(page, "leads (dark)");
  await shot(page, "leads-dark.png");
  // A phone's width: the sidebar goes on top, the table scrolls sideways.
  await page.setViewportSize({ width: 390, height: 844 });
  await check(page, "leads (phone)");
  await shot(page, "leads-phone.png");

  if (errors.length) throw new Error(`console errors:\n${errors.join("\n")}`);
  if (a11y.length) throw new Error(`axe-core found serious violations:\n${a11y.join("\n")}`);
  console.log(
    JSON.stringify({ lead_id: leadId, deleted_id: ids["Bush 57"], restored_id: ids["Bush 58"], tagged: [ids["Bush 60"], ids["Bush 59"]] }),
  );
} finally {
  await browser.close();
}
