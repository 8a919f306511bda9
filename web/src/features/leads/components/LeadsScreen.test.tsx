import { cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, expect, test, vi } from "vitest";
import { LeadsScreen } from "./LeadsScreen";
import { lead, renderWithApp, stubApi, type Call } from "./test-support";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

const DEFINITIONS = { leads: { tier: { type: "select", options: ["gold", "silver"], label: "Tier" } }, clients: {} };
const MEMBERS = [{ user_id: "user-1", email: "a@example.com", role: "owner" }];

/** The agency's answers, with `leads` for the list. */
function agency(leads: (call: Call) => unknown) {
  return (call: Call) => {
    if (call.url.includes("/members")) return MEMBERS;
    if (call.url.startsWith("/api/v1/custom-fields")) return DEFINITIONS;
    return leads(call);
  };
}

const lists = (calls: Call[]) => calls.filter((c) => c.method === "GET" && c.url.startsWith("/api/v1/leads?"));

test("pages through the leads with the cursor and sorts by a column", async () => {
  const calls = stubApi(
    agency(({ url }) =>
      new URL(url, "http://x").searchParams.get("cursor")
        ? { items: [lead(2)], next_cursor: null }
        : { items: [lead(1)], next_cursor: "c1" },
    ),
  );
  renderWithApp(<LeadsScreen />);
  expect(await screen.findByText("Ada Lovelace 1")).toBeTruthy();
  fireEvent.click(screen.getByRole("button", { name: "Load more" }));
  expect(await screen.findByText("Ada Lovelace 2")).toBeTruthy();
  expect(lists(calls)[1]?.url).toContain("cursor=c1");

  fireEvent.click(screen.getByRole("button", { name: /Sort by Score/ }));
  await waitFor(() => expect(lists(calls).at(-1)?.url).toContain("sort=-score"));
  const score = screen.getByRole("columnheader", { name: /Score/ });
  expect(score.getAttribute("aria-sort")).toBe("descending");
});

test("filters go to the server as the list's query parameters, custom fields too", async () => {
  const calls = stubApi(agency(() => ({ items: [lead(1)], next_cursor: null })));
  renderWithApp(<LeadsScreen />);
  await screen.findByText("Ada Lovelace 1");
  fireEvent.change(screen.getByLabelText("Source"), { target: { value: "web" } });
  fireEvent.change(screen.getByLabelText("Score from"), { target: { value: "40" } });
  fireEvent.change(screen.getByLabelText("Owner"), { target: { value: "user-1" } });
  fireEvent.change(screen.getByLabelText("Tier"), { target: { value: "gold" } });
  fireEvent.change(screen.getByLabelText("Tagged"), { target: { value: "vip" } });
  fireEvent.click(screen.getByRole("button", { name: "Add tag filter" }));
  await waitFor(() => {
    const params = new URL(lists(calls).at(-1)?.url ?? "", "http://x").searchParams;
    expect(params.get("source")).toBe("web");
    expect(params.get("score_min")).toBe("40");
    expect(params.get("owner_id")).toBe("user-1");
    expect(params.get("custom_field")).toBe("tier:gold");
    expect(params.getAll("tag")).toEqual(["vip"]);
  });
});

test("bulk tagging sends one request per selected lead and edits in place save one field", async () => {
  const calls = stubApi(
    agency(({ url, method, body }) => {
      if (method === "POST") return lead(Number(url.split("/")[4]?.slice(5)), { tags: [(body as { tag: string }).tag] });
      if (method === "PATCH") return lead(1, body as object);
      return { items: [lead(1), lead(2), lead(3)], next_cursor: null };
    }),
  );
  renderWithApp(<LeadsScreen />);
  await screen.findByText("Ada Lovelace 1");
  fireEvent.click(screen.getByLabelText("Select Ada Lovelace 1"));
  fireEvent.click(screen.getByLabelText("Select Ada Lovelace 3"));
  const bulk = screen.getByRole("region", { name: "Bulk actions" });
  expect(within(bulk).getByRole("status").textContent).toBe("2 selected");
  fireEvent.change(within(bulk).getByLabelText("Tag"), { target: { value: "hot" } });
  fireEvent.click(within(bulk).getByRole("button", { name: "Add tag" }));
  await waitFor(() => expect(calls.filter((c) => c.method === "POST").map((c) => c.url)).toEqual([
    "/api/v1/leads/lead-1/tags",
    "/api/v1/leads/lead-3/tags",
  ]));
  expect(calls.find((c) => c.method === "POST")?.body).toEqual({ tag: "hot" });

  fireEvent.click(screen.getByRole("button", { name: "Edit Company of Ada Lovelace 1: Analytical Engines" }));
  const input = screen.getByLabelText("Company of Ada Lovelace 1");
  fireEvent.change(input, { target: { value: "Babbage & Co" } });
  fireEvent.keyDown(input, { key: "Enter" });
  await waitFor(() => expect(calls.find((c) => c.method === "PATCH")?.body).toEqual({ company: "Babbage & Co" }));
});

test("the keyboard moves between rows and Space selects", async () => {
  stubApi(agency(() => ({ items: [lead(1), lead(2)], next_cursor: null })));
  renderWithApp(<LeadsScreen />);
  await screen.findByText("Ada Lovelace 1");
  const rows = screen.getAllByRole("row").filter((r) => r.hasAttribute("data-index"));
  expect(rows.map((r) => r.tabIndex)).toEqual([0, -1]);
  fireEvent.keyDown(rows[0]!, { key: "ArrowDown" });
  await waitFor(() => expect(document.activeElement).toBe(rows[1]));
  fireEvent.keyDown(rows[1]!, { key: " " });
  expect((screen.getByLabelText("Select Ada Lovelace 2") as HTMLInputElement).checked).toBe(true);
});

test("shows the server's message when the API refuses", async () => {
  stubApi(
    agency(
      () =>
        new Response(JSON.stringify({ code: "PGRST301", message: "your session has expired: sign in again" }), {
          status: 401,
        }),
    ),
  );
  renderWithApp(<LeadsScreen />);
  expect((await screen.findByRole("alert")).textContent).toBe("your session has expired: sign in again");
  expect(screen.getByLabelText("Search leads")).toBeTruthy();
});

test("with many leads loaded only some rows are in the page (virtual rows)", async () => {
  // jsdom lays nothing out: the scroll box gets a browser's size.
  vi.spyOn(HTMLElement.prototype, "clientHeight", "get").mockReturnValue(800);
  vi.spyOn(HTMLElement.prototype, "clientWidth", "get").mockReturnValue(1000);
  const many = Array.from({ length: 200 }, (_, i) => lead(i + 1));
  stubApi(agency(() => ({ items: many, next_cursor: null })));
  renderWithApp(<LeadsScreen />);
  expect(await screen.findByText("200 leads shown")).toBeTruthy();
  const rendered = screen.getAllByRole("row").filter((r) => r.hasAttribute("data-index"));
  expect(rendered.length).toBeGreaterThan(0);
  expect(rendered.length).toBeLessThan(100);
});
