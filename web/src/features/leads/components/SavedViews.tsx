import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { toast } from "sonner";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { NativeSelect } from "@/components/ui/select";
import { activeAgencyId, useAuth } from "@/lib/supabase";
import type { ViewState } from "../api/leads";
import { deleteView, savedViewsQuery, saveView } from "../api/views";

/** Pick one of the user's saved views, save the table as it is under a name, or delete the view picked. */
export function SavedViews({ state, onApply }: { state: ViewState; onApply: (state: ViewState) => void }) {
  const { supabase, session } = useAuth();
  const client = useQueryClient();
  const options = savedViewsQuery(supabase, activeAgencyId(session));
  const views = useQuery(options);
  const [current, setCurrent] = useState("");
  const [name, setName] = useState("");
  const save = useMutation({
    mutationFn: (viewName: string) => saveView(supabase, viewName, state),
    onSuccess: (view) => {
      setCurrent(view.id);
      setName("");
      toast.success(`View “${view.name}” saved`);
      void client.invalidateQueries({ queryKey: options.queryKey });
    },
    onError: (error) => toast.error(error.message),
  });
  const remove = useMutation({
    mutationFn: (id: string) => deleteView(supabase, id),
    onSuccess: () => {
      setCurrent("");
      void client.invalidateQueries({ queryKey: options.queryKey });
    },
    onError: (error) => toast.error(error.message),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (name.trim()) save.mutate(name.trim());
  };
  return (
    <div className="flex flex-wrap items-end gap-3">
      <div className="flex flex-col gap-1">
        <Label htmlFor="saved-view">Saved view</Label>
        <NativeSelect
          id="saved-view"
          className="h-8"
          value={current}
          onChange={(e) => {
            setCurrent(e.target.value);
            const view = views.data?.find((v) => v.id === e.target.value);
            if (view) onApply(view.state);
          }}
        >
          <option value="">{views.isPending ? "Loading…" : "Choose a view"}</option>
          {views.data?.map((v) => (
            <option key={v.id} value={v.id}>
              {v.name}
            </option>
          ))}
        </NativeSelect>
      </div>
      {current && (
        <Button variant="outline" size="sm" onClick={() => remove.mutate(current)}>
          Delete view
        </Button>
      )}
      <form className="flex items-end gap-1" onSubmit={submit}>
        <div className="flex flex-col gap-1">
          <Label htmlFor="view-name">Save as view</Label>
          <Input
            id="view-name"
            className="h-8 w-36"
            maxLength={100}
            placeholder="View name"
            value={name}
            onChange={(e) => setName(e.target.value)}
          />
        </div>
        <Button type="submit" variant="outline" size="sm" disabled={save.isPending}>
          Save view
        </Button>
      </form>
      {views.error && (
        <p role="alert" className="text-sm text-destructive">
          {views.error.message}
        </p>
      )}
    </div>
  );
}
