import type { SupabaseClient } from "@supabase/supabase-js";
import { queryOptions } from "@tanstack/react-query";
import { EMPTY_VIEW, type ViewState } from "./leads";

/** A saved view: the user's own, in the active agency (public.saved_views, owner-only RLS), through /rest/v1
 * with supabase-js, so that it follows the user to every device. */
export type SavedView = { id: string; name: string; state: ViewState };

function orThrow<T>({ data, error }: { data: T | null; error: { message: string } | null }): T {
  if (error) throw new Error(error.message);
  return data as T;
}

export function savedViewsQuery(supabase: SupabaseClient, agencyId: string | null) {
  return queryOptions({
    queryKey: ["saved-views", agencyId, "leads"],
    queryFn: async () => {
      const rows = orThrow(
        await supabase.from("saved_views").select("id,name,state").eq("screen", "leads").order("name"),
      ) as SavedView[];
      // A view saved by an older app lacks the newer keys: the defaults fill them.
      return rows.map((row) => ({ ...row, state: { ...EMPTY_VIEW, ...row.state } }));
    },
  });
}

export async function saveView(supabase: SupabaseClient, name: string, state: ViewState): Promise<SavedView> {
  return orThrow(
    await supabase
      .from("saved_views")
      .upsert({ name, state, screen: "leads" }, { onConflict: "agency_id,user_id,screen,name" })
      .select("id,name,state")
      .single(),
  ) as SavedView;
}

export async function deleteView(supabase: SupabaseClient, id: string): Promise<void> {
  orThrow(await supabase.from("saved_views").delete().eq("id", id));
}
