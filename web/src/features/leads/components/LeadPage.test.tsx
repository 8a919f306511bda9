import { cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { Route, Routes } from "react-router";
import { afterEach, expect, test, vi } from "vitest";
import { LeadPage } from "./LeadPage";
import { lead, renderWithApp, stubApi, type Call } from "./test-support";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const DEFINITIONS = {
  leads: { employees: { type: "number" }, vip: { type: "boolean", label: "VIP" } },
  clients: {},
};
const ADA = lead(1, { custom_fields: { employees: 12 }, tags: ["garden"] });
const KING = { ...lead(2, { first_name: "Ada", last_name: "King", company: null }), email: ADA.email };

function answers(extra: (call: Call) => unknown = () => undefined) {
  return (call: Call) => {
    const found = extra(call);
    if (found !== undefined) return found;
    if (call.url.includes("/members")) return [];
    if (call.url.startsWith("/api/v1/custom-fields")) return DEFINITIONS;
    if (call.url.includes("/timeline")) return { items: [], next_cursor: null };
    if (call.url.includes("/duplicates"))
      return [{ kind: "lead", id: KING.id, score: 1, reasons: ["same email"], same_person: true, record: KING }];
    if (call.url === `/api/v1/leads/${ADA.id}`) return ADA;
    return {};
  };
}

function renderPage() {
  renderWithApp(
    <Routes>
      <Route path="/leads/:id" element={<LeadPage />} />
    </Routes>,
    `/leads/${ADA.id}`,
  );
}

test("saving the form sends only the fields changed, custom fields typed by their definition", async () => {
  const calls = stubApi(answers(({ method, body }) => (method === "PATCH" ? { ...ADA, ...(body as object) } : undefined)));
  renderPage();
  const form = await screen.findByRole("form", { name: "Lead details" });
  expect((within(form).getByLabelText("Employees") as HTMLInputElement).value).toBe("12");
  fireEvent.change(within(form).getByLabelText("Job title"), { target: { value: "Countess" } });
  fireEvent.change(within(form).getByLabelText("Employees"), { target: { value: "40" } });
  fireEvent.change(within(form).getByLabelText("VIP"), { target: { value: "true" } });
  fireEvent.change(within(form).getByLabelText("Tags (comma-separated)"), { target: { value: "garden, roses" } });
  fireEvent.click(within(form).getByRole("button", { name: "Save changes" }));
  await waitFor(() =>
    expect(calls.find((c) => c.method === "PATCH")?.body).toEqual({
      job_title: "Countess",
      tags: ["garden", "roses"],
      custom_fields: { employees: 40, vip: true },
    }),
  );
});

test("a note goes to the lead's timeline, and the API's refusal is shown as its message", async () => {
  let refuse = true;
  const calls = stubApi(
    answers(({ url, method }) => {
      if (url === "/api/v1/activities" && method === "POST") {
        if (refuse) {
          refuse = false;
          return new Response(JSON.stringify({ message: "subject: at most 200 characters" }), { status: 422 });
        }
        return { id: "a1" };
      }
      return undefined;
    }),
  );
  renderPage();
  const form = await screen.findByRole("form", { name: "Add an activity" });
  fireEvent.change(within(form).getByLabelText("Subject"), { target: { value: "Talked about roses" } });
  fireEvent.click(within(form).getByRole("button", { name: "Add note" }));
  expect((await within(form).findByRole("alert")).textContent).toBe("subject: at most 200 characters");
  fireEvent.click(within(form).getByRole("button", { name: "Add note" }));
  await waitFor(() => expect(calls.filter((c) => c.url === "/api/v1/activities")).toHaveLength(2));
  expect(calls.filter((c) => c.url === "/api/v1/activities")[1]?.body).toEqual({
    kind: "note",
    subject: "Talked about roses",
    lead_id: ADA.id,
  });
});

test("the merge dialog keeps this lead's values unless the other one is picked", async () => {
  const calls = stubApi(answers(({ method }) => (method === "POST" ? { survivor: ADA } : undefined)));
  renderPage();
  fireEvent.click(await screen.findByRole("button", { name: "Compare and merge Ada King" }));
  const dialog = await screen.findByRole("dialog", { name: "Merge a duplicate into this lead" });
  expect((within(dialog).getByLabelText("Keep this lead’s last name: Lovelace 1") as HTMLInputElement).checked).toBe(true);
  fireEvent.click(within(dialog).getByLabelText("Keep the duplicate’s last name: King"));
  fireEvent.click(within(dialog).getByRole("button", { name: "Merge into this lead" }));
  await waitFor(() => expect(calls.find((c) => c.url.endsWith("/merge"))?.body).toBeTruthy());
  const body = calls.find((c) => c.url.endsWith("/merge"))?.body as { duplicate_ids: string[]; prefer: Record<string, string> };
  expect(body.duplicate_ids).toEqual([KING.id]);
  expect(body.prefer.last_name).toBe(KING.id);
  expect(body.prefer.score).toBe(ADA.id);
});
