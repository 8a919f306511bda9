import type { InfiniteData, QueryClient } from "@tanstack/react-query";
import { toast } from "sonner";
import type { SupabaseClient } from "@supabase/supabase-js";
import { deleteLead, type Lead, type LeadPage } from "./api/leads";

/** How long a deletion waits for "Undo" before it reaches the server. */
export const UNDO_MS = 6000;

/** Replace (or, with `null`, drop) cached rows of every leads list and lead page, so that the table shows a
 * change at once; the server's answer or a refetch settles it. */
export function patchCachedLeads(client: QueryClient, ids: Set<string>, change: (lead: Lead) => Lead | null): void {
  client.setQueriesData<InfiniteData<LeadPage>>({ queryKey: ["leads"], predicate: (q) => q.queryKey[2] === "list" }, (data) =>
    data
      ? {
          ...data,
          pages: data.pages.map((page) => ({
            ...page,
            items: page.items.flatMap((lead) => {
              if (!ids.has(lead.id)) return [lead];
              const changed = change(lead);
              return changed ? [changed] : [];
            }),
          })),
        }
      : data,
  );
}

/** Leads waiting for their undo time: a refetch meanwhile (another change invalidates the list) must not
 * bring them back. */
export const pendingDeletes = new Set<string>();

/** Delete leads with a chance to undo: they leave the table at once, and the DELETEs go out only when the
 * toast's time is up. Undo, a closed tab or a crash before then lose nothing. The timer is not the
 * component's: leaving the screen still deletes them. */
export function deleteWithUndo(supabase: SupabaseClient, client: QueryClient, ids: string[]): void {
  const set = new Set(ids);
  for (const id of ids) pendingDeletes.add(id);
  patchCachedLeads(client, set, () => null);
  const refresh = () => {
    for (const id of ids) pendingDeletes.delete(id);
    void client.invalidateQueries({ queryKey: ["leads"] });
  };
  const timer = setTimeout(() => {
    void Promise.allSettled(ids.map((id) => deleteLead(supabase, id))).then((results) => {
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed.length) toast.error(`${failed.length} lead(s) were not deleted: ${String(failed[0]?.reason?.message)}`);
      refresh();
    });
  }, UNDO_MS);
  const label = ids.length === 1 ? "Lead deleted" : `${ids.length} leads deleted`;
  toast(label, {
    duration: UNDO_MS,
    action: {
      label: "Undo",
      onClick: () => {
        clearTimeout(timer);
        refresh();
        toast.success(ids.length === 1 ? "Lead restored" : `${ids.length} leads restored`);
      },
    },
  });
}
